/**
 * Test helper: a file system that dies at a chosen operation, as a killed process does, and the
 * small training run that `tests/checkpoint_faults_test.ts` and `tests/_killed_save.ts` kill.
 *
 * @module
 */

import { ViTImageProcessor } from "../data/processor.ts";
import { type DirEntry, type FileInfo, type FileSystem, fileSystem } from "../io/files.ts";
import { makeTrainingArguments } from "../train/args.ts";
import { Trainer } from "../train/trainer.ts";
import type { ViTForImageClassification } from "../models/vit/modeling.ts";
import { config, fixtureDataset, fixtureModel } from "./_trajectory.ts";

/** The process was killed: thrown by every operation from the chosen one on. */
export class Killed extends Error {}

/**
 * Deno's file system, until operation number `killAt` (counting only those that write): that
 * operation is left half done and then, with `sigkill`, the process is killed for real;
 * without, every operation from then on throws {@link Killed}.
 */
export class DyingFileSystem implements FileSystem {
  readonly inner: FileSystem = fileSystem();
  /** Writing operations so far, with what they did; markers for the step ends. */
  readonly log: string[] = [];
  writes = 0;
  killAt = Infinity;
  sigkill = false;
  dead = false;

  #alive(): void {
    if (this.dead) throw new Killed("the process is dead");
  }

  async #write(what: string, halfDone: () => Promise<void>, op: () => Promise<void>) {
    this.#alive();
    this.writes++;
    this.log.push(what);
    if (this.writes === this.killAt) {
      this.dead = true;
      await halfDone();
      if (this.sigkill) Deno.kill(Deno.pid, "SIGKILL");
      throw new Killed(`killed during ${what}`);
    }
    await op();
  }

  readFile(path: string): Promise<Uint8Array> {
    this.#alive();
    return this.inner.readFile(path);
  }
  readDir(path: string): Promise<DirEntry[]> {
    this.#alive();
    return this.inner.readDir(path);
  }
  stat(path: string): Promise<FileInfo | null> {
    this.#alive();
    return this.inner.stat(path);
  }
  writeFile(path: string, data: Uint8Array): Promise<void> {
    // Deno's writeFile goes through a temporary file: a kill leaves part of that behind.
    const temp = `${path.slice(0, path.lastIndexOf("/"))}/.killed.tmp-${this.writes}`;
    return this.#write(
      `write ${path}`,
      () => Deno.writeFile(temp, data.subarray(0, data.length >> 1)),
      () => this.inner.writeFile(path, data),
    );
  }
  appendFile(path: string, data: Uint8Array): Promise<void> {
    return this.#write(
      `append ${path}`,
      () => this.inner.appendFile(path, data.subarray(0, data.length >> 1)),
      () => this.inner.appendFile(path, data),
    );
  }
  mkdir(path: string): Promise<void> {
    return this.#write(`mkdir ${path}`, async () => {}, () => this.inner.mkdir(path));
  }
  rename(from: string, to: string): Promise<void> {
    return this.#write(`rename ${from} ${to}`, async () => {}, () => this.inner.rename(from, to));
  }
  remove(path: string): Promise<void> {
    // A recursive delete cut short: the first half of the folder's files are gone.
    const halfDone = async () => {
      const info = await this.inner.stat(path);
      if (!info?.isDirectory) return;
      const names = (await this.inner.readDir(path)).map((e) => e.name).sort();
      for (const name of names.slice(0, names.length >> 1)) {
        await this.inner.remove(`${path}/${name}`);
      }
    };
    return this.#write(`remove ${path}`, halfDone, () => this.inner.remove(path));
  }
}

/**
 * 6 steps of the small ViT, a checkpoint every 2 steps, at most `keep` kept.
 *
 * @param outputDir The output folder.
 * @param resume Resume from its newest checkpoint.
 * @param logs Receives the trainer's log lines.
 * @param fs Receives a marker after each step, when given.
 * @param keep saveTotalLimit.
 * @returns The trainer and its model.
 */
export function faultTrainer(
  outputDir: string,
  resume: boolean,
  logs: string[],
  fs?: DyingFileSystem,
  keep = 1,
): { t: Trainer; model: ViTForImageClassification } {
  const args = makeTrainingArguments({
    outputDir,
    perDeviceTrainBatchSize: 8,
    maxSteps: 6,
    learningRate: 2e-3,
    saveSteps: 2,
    saveTotalLimit: keep,
    loggingSteps: 1000,
    reportTo: "none",
    dataloaderNumWorkers: 0,
    resumeFromCheckpoint: resume ? true : null,
  });
  const model = fixtureModel();
  const t = new Trainer({
    model,
    args,
    processor: new ViTImageProcessor({ size: config.image_size }),
    trainDataset: fixtureDataset(),
    log: (l) => logs.push(l),
    callbacks: fs
      ? [{ onStepEnd: (_a, state) => void fs.log.push(`step ${state.global_step}`) }]
      : [],
  });
  return { t, model };
}
