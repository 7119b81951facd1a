'use strict';
// The small steps of the grade-set workflow (grade-set.yaml) around the grader:
// fetch a page (flaky on purpose, retried by the workflow), summarize a class set,
// notify the teacher about incomplete pages.

/** Fetches a page of a class set. Fails now and then with PageNotReady (an upload still
 *  in progress, say): the workflow retries it with backoff and jitter. */
exports.fetch = async (event) => {
  const page = event.page || {};
  if (Math.random() < Number(process.env.FLAKY_RATE || 0.3)) {
    const error = new Error(`page ${event.index} of ${event.class} is not ready yet`);
    error.name = 'PageNotReady';
    throw error;
  }
  return { student: page.student, sample: page.sample };
};

/** Summarizes the graded pages of a class set. */
exports.summarize = async (event) => {
  const graded = Array.isArray(event.graded) ? event.graded : [];
  const incomplete = graded.filter((g) => g.verdict !== 'complete').map((g) => g.student);
  const answered = graded.reduce((n, g) => n + (g.answered || 0), 0);
  const total = graded.reduce((n, g) => n + (g.total || 0), 0);
  return {
    class: event.class,
    pages: graded.length,
    complete: graded.length - incomplete.length,
    incomplete,
    incompleteCount: incomplete.length,
    answeredShare: total ? Math.round((answered / total) * 100) / 100 : 0,
  };
};

/** Tells the teacher which students handed in an incomplete page (here: a log line). */
exports.notify = async (event) => {
  const message = `class ${event.class}: incomplete pages from ${event.incomplete.join(', ')}`;
  console.log(`notify teacher: ${message}`);
  return { sent: true, message };
};
