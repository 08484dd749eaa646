/// <reference lib="dom" />
/**
 * The page's demo-data worker: draws the beans-like demo set and JPEG-encodes it, apart from the
 * training worker, which uses only the library's public browser entry. The page hands the
 * files to the training worker as if the user had picked a folder `beans-synthetic/`.
 *
 * @module
 */

import { encodeJpeg } from "../data/jpeg.ts";
import { BEANS_CLASSES, beanSeed, classCounts, renderBeanLeaf } from "../demo/synthetic_beans.ts";
import type { DemoReply, DemoRequest, PickedFile } from "./protocol.ts";

const port = globalThis as unknown as {
  postMessage(message: DemoReply): void;
  onmessage: ((event: MessageEvent<DemoRequest>) => void) | null;
};

port.onmessage = (event: MessageEvent<DemoRequest>) => {
  const { perSplit, size, seed } = event.data;
  try {
    const root = "beans-synthetic";
    const total = Object.values(perSplit).reduce((a, b) => a + b, 0);
    const files: PickedFile[] = [];
    for (const [split, count] of Object.entries(perSplit)) {
      const counts = classCounts(count);
      for (const [label, name] of BEANS_CLASSES.entries()) {
        for (let i = 0; i < counts[label]; i++) {
          const image = renderBeanLeaf(label, beanSeed(seed, split, label, i), size);
          files.push({
            path: `${root}/${split}/${name}/${name}_${split}.${i}.jpg`,
            file: new Blob([encodeJpeg(image, 90) as Uint8Array<ArrayBuffer>]),
          });
          if (files.length % 25 === 0) {
            port.postMessage({
              type: "status",
              text: `drawing leaves: ${files.length} / ${total}`,
            });
          }
        }
      }
    }
    port.postMessage({ type: "files", files });
  } catch (error) {
    port.postMessage({ type: "error", message: (error as Error).message });
  }
};
