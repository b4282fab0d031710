"""What the step types share."""
