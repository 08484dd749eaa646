/**
 * A data-loading worker: prepares samples on request and sends back their pixel values
 * (transferred, not copied), or the error message.
 *
 * @module
 */

import { prepareSample, type SampleJob } from "./sample.ts";

interface Request {
  id: number;
  job: SampleJob;
}

const scope = self as unknown as {
  onmessage: ((event: MessageEvent<Request>) => void) | null;
  postMessage: (message: unknown, transfer?: Transferable[]) => void;
};

scope.onmessage = async (event) => {
  const { id, job } = event.data;
  try {
    const data = await prepareSample(job);
    scope.postMessage({ id, data }, [data.buffer as ArrayBuffer]);
  } catch (error) {
    scope.postMessage({ id, error: (error as Error).message, name: (error as Error).name });
  }
};
