/**
 * The simulator off the page's thread: the page stays responsive (and its "Running…" shows)
 * while a run takes its second or more. One run per message; progress as it goes.
 */
import { runJob, type WorkerReply, type WorkerRequest } from './run.ts';

const post = (reply: WorkerReply) => globalThis.postMessage(reply);

/** Progress messages at most every whole percent of virtual time. */
let shown = -1;

globalThis.addEventListener('message', (event: MessageEvent<WorkerRequest>) => {
  const request = event.data;
  if (request.kind !== 'run') return;
  shown = -1;
  try {
    const result = runJob(request.job, (done) => {
      const percent = Math.floor(done * 100);
      if (percent === shown) return;
      shown = percent;
      post({ kind: 'progress', done });
    });
    post({ kind: 'done', result });
  } catch (error) {
    post({ kind: 'error', message: error instanceof Error ? error.message : String(error) });
  }
});
