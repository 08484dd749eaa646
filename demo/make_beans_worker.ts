/**
 * A worker of {@link makeBeans}: makes the images it is asked for ({@link makeBeanJpeg}) and
 * sends back their JPEG bytes (transferred, not copied), or the error message.
 *
 * @module
 */

import { type BeanJob, makeBeanJpeg } from "./make_beans.ts";

const scope = self as unknown as {
  onmessage: ((event: MessageEvent<BeanJob>) => void) | null;
  postMessage: (message: unknown, transfer?: Transferable[]) => void;
};

scope.onmessage = (event) => {
  const job = event.data;
  try {
    const bytes = makeBeanJpeg(job);
    scope.postMessage({ id: job.id, bytes }, [bytes.buffer as ArrayBuffer]);
  } catch (error) {
    scope.postMessage({ id: job.id, error: (error as Error).message });
  }
};
