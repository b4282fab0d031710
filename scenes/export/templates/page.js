// The lesson page's script: captions, chapters, step-through and the keys N, P, S.
// It reads the lesson's data from the JSON in #lesson-data and fetches nothing.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("lesson-data").textContent);
  const video = document.getElementById("video");
  const trackEls = Array.from(video.querySelectorAll("track"));
  const switcher = document.getElementById("caption-language");
  const status = document.getElementById("status");
  const stepToggle = document.getElementById("step-mode");
  const starts = data.steps.map((s) => s.start);
  const ends = data.steps.map((s) => s.start + s.duration);
  const EPS = 0.002;
  // A pause at a step's end shows its last frame: half a frame before the boundary.
  const BEFORE_END = 0.5 / data.fps;
  let stopAt = null;
  let lastSeen = null;  // playback and wall-clock time at watch()'s previous frame

  // The page's own texts, in the lesson's language: "{name}" is filled in.
  function tr(key, values) {
    return data.text[key].replace(/\{(\w+)\}/g, (m, name) => String(values[name]));
  }

  // Caption files do not load into file:// pages; the same cues are inline. A
  // track starting to load (when first shown) drops them, and its failure to
  // load puts them back.
  function addInlineCues(el) {
    const cues = el.srclang === data.language ? data.cues : data.tracks[el.srclang] || [];
    if (el.track.cues && el.track.cues.length) { return; }
    for (const c of cues) { el.track.addCue(new VTTCue(c.start, c.end, c.text)); }
  }
  // One language's captions at a time ("" for none). Captions burned into the
  // picture are not shown a second time.
  function showCaptions(lang) {
    trackEls.forEach((el) => {
      if (el.srclang !== lang) { el.track.mode = "disabled"; return; }
      el.track.mode = data.burned && lang === data.language ? "hidden" : "showing";
    });
    switcher.value = lang;
  }
  trackEls.forEach((el) => {
    el.addEventListener("error", () => addInlineCues(el));
    if (el.readyState === 3 || location.protocol === "file:") { addInlineCues(el); }
  });
  showCaptions(data.language);
  switcher.addEventListener("change", () => showCaptions(switcher.value));
  // A choice made in the video's own caption menu shows in the switch too.
  video.textTracks.addEventListener("change", () => {
    const on = trackEls.find((el) => el.track.mode === "showing" ||
                                     (el.track.mode === "hidden" && data.burned));
    switcher.value = on ? on.srclang : "";
  });

  function stepAt(t) {
    let index = 0;
    for (let i = 0; i < starts.length; i++) { if (t + EPS >= starts[i]) { index = i; } }
    return index;
  }
  function fmt(t) {
    const m = Math.floor(t / 60), s = Math.floor(t % 60);
    return m + ":" + String(s).padStart(2, "0");
  }
  function say(text) { status.textContent = text; }

  function seek(t, play) {
    video.currentTime = t;
    stopAt = stepToggle.checked ? ends[stepAt(t)] : null;
    if (play) { video.play(); }
  }
  function next() {
    const i = stepAt(video.currentTime);
    if (i + 1 < starts.length) {
      seek(starts[i + 1], true);
      say(tr("step", {number: i + 2, count: starts.length, title: data.steps[i + 1].title}));
    }
  }
  function previous() {
    const i = stepAt(video.currentTime);
    const target = video.currentTime - starts[i] > 1 || i === 0 ? i : i - 1;
    seek(starts[target], true);
    say(tr("step", {number: target + 1, count: starts.length, title: data.steps[target].title}));
  }
  document.getElementById("next").addEventListener("click", next);
  document.getElementById("previous").addEventListener("click", previous);
  stepToggle.addEventListener("change", () => {
    stopAt = stepToggle.checked ? ends[stepAt(video.currentTime)] : null;
    say(tr(stepToggle.checked ? "stepping_on" : "stepping_off", {}));
  });
  // A seek with the video's own controls: the next pause is at the new step's end.
  function reaim() {
    if (stepToggle.checked && !video.paused) { stopAt = ends[stepAt(video.currentTime)]; }
  }
  video.addEventListener("seeking", reaim);
  video.addEventListener("seeked", reaim);
  // Where step-through pauses next, worked out as playback starts: the end of this
  // step or, from a pause at a step's end, of the next one. From the last step's
  // end there is no next one: aiming at its own end again would pause at once, so
  // the lesson starts over, as a video does when play is pressed at its end.
  function aim() {
    const t = video.currentTime, i = stepAt(t);
    if (t < ends[i] - BEFORE_END - EPS) { return ends[i]; }
    if (i + 1 < ends.length) { return ends[i + 1]; }
    seek(starts[0], false);
    say(tr("step", {number: 1, count: starts.length, title: data.steps[0].title}));
    return ends[0];
  }
  // Checked every animation frame, so the pause lands on the step's last frame.
  function watch() {
    // A pause drops the aim (a toggle or a seek while paused moves where playing
    // starts); playing aims anew, on its first frame rather than at the "play"
    // event, which may come a frame later than the playing itself.
    if (video.paused) {
      stopAt = null;
    } else if (stopAt === null && stepToggle.checked) {
      stopAt = aim();
    }
    // A jump since the last frame is a seek (its events may not have arrived
    // yet): aim at the new step's end instead of pulling the video back.
    const now = video.currentTime, wall = performance.now() / 1000;
    if (stopAt !== null && !video.paused && lastSeen !== null) {
      const expected = (wall - lastSeen.wall) * video.playbackRate;
      if (Math.abs(now - lastSeen.t - expected) > 0.3 + 0.5 * expected) {
        stopAt = ends[stepAt(now)];
      }
    }
    lastSeen = {t: now, wall: wall};
    if (stopAt !== null && !video.paused && video.currentTime >= stopAt - BEFORE_END) {
      video.pause();
      video.currentTime = stopAt - BEFORE_END;
      const i = stepAt(video.currentTime);
      say(tr("paused", {number: i + 1, count: starts.length}));
      stopAt = null;
    }
    requestAnimationFrame(watch);
  }
  requestAnimationFrame(watch);

  const chapterButtons = Array.from(document.querySelectorAll("nav button[data-start]"));
  chapterButtons.forEach((b) => b.addEventListener("click", () => {
    seek(parseFloat(b.dataset.start), true);
    say(tr("chapter", {title: b.dataset.title}));
  }));
  video.addEventListener("timeupdate", () => {
    const t = video.currentTime;
    chapterButtons.forEach((b) => {
      const on = t + EPS >= parseFloat(b.dataset.start) && t < parseFloat(b.dataset.end) - EPS;
      b.setAttribute("aria-current", on ? "true" : "false");
    });
  });
  document.addEventListener("keydown", (e) => {
    if (e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement ||
        e.altKey || e.ctrlKey || e.metaKey) { return; }
    if (e.key === "n") { next(); e.preventDefault(); }
    else if (e.key === "p") { previous(); e.preventDefault(); }
    else if (e.key === "s") { stepToggle.click(); e.preventDefault(); }
  });
  document.querySelectorAll(".time[data-t]").forEach((el) => {
    el.textContent = fmt(parseFloat(el.dataset.t));
  });
})();
