/**
 * A {@link FileSystem} held in memory: a map from path to bytes, plus the folders made with
 * `mkdir`. It runs anywhere (a browser tab, a Web Worker, Deno tests): a page fills it with the
 * files a user picked, trains against it, and offers what the Trainer wrote as downloads.
 *
 * Paths are normalised (`./a//b/` is `a/b`; `..` goes up), so `model/config.json` and
 * `./model/config.json` name the same file; a leading `/` is kept.
 *
 * @module
 */

import { type DirEntry, FileError, type FileInfo, type FileSystem } from "./file_system.ts";

/** A file with its path, as {@link MemoryFileSystem.fromFiles} takes and `filesUnder` gives. */
export interface MemoryFile {
  /** `/`-separated path. */
  path: string;
  /** Contents. */
  data: Uint8Array;
}

/**
 * What the helper for browser files needs of a `File`: its bytes, its name and, for files from
 * a folder picker (`<input type="file" webkitdirectory>`), its path inside the picked folder.
 * Deno's `File` fits too.
 */
export interface PickedFile {
  /** The file's name. */
  readonly name: string;
  /** `picked/sub/x.jpg` for a file from a picked folder; empty or absent otherwise. */
  readonly webkitRelativePath?: string;
  /** The contents. */
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** `./a//b/../c/` → `a/c`; keeps a leading slash. */
function normalize(path: string): string {
  const absolute = path.startsWith("/");
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === ".." && parts.length > 0 && parts.at(-1) !== "..") parts.pop();
    else parts.push(part);
  }
  const joined = parts.join("/");
  return absolute ? `/${joined}` : joined;
}

/** The folder of a normalised path ("" at the top). */
function parentOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash > 0 ? path.slice(0, slash) : slash === 0 && path.length > 1 ? "/" : "";
}

/** Whether `path` lies inside folder `dir` (both normalised; "" and "/" are tops). */
function isInside(path: string, dir: string): boolean {
  if (dir === "") return path !== "" && !path.startsWith("/");
  if (dir === "/") return path.startsWith("/") && path !== "/";
  return path.startsWith(`${dir}/`);
}

/**
 * Files in memory.
 *
 * @example
 * ```ts
 * import { MemoryFileSystem } from "./memory_fs.ts";
 * import { useFileSystem, writeAtomic } from "./files.ts";
 *
 * const fs = new MemoryFileSystem();
 * useFileSystem(fs);
 * await writeAtomic("out/results.json", "{}\n");
 * console.log(fs.filesUnder("out").map((f) => f.path)); // ["out/results.json"]
 * useFileSystem(null);
 * ```
 */
export class MemoryFileSystem implements FileSystem {
  readonly #files = new Map<string, Uint8Array>();
  readonly #dirs = new Set<string>();
  /** The contents given by {@link adoptFile}: read back as they are, not copied. */
  readonly #adopted = new WeakSet<Uint8Array>();

  /**
   * A file system holding the given files.
   *
   * @param files Paths and contents (the bytes are kept, not copied).
   * @returns The file system.
   * @example
   * ```ts
   * import { MemoryFileSystem } from "./memory_fs.ts";
   * const fs = MemoryFileSystem.fromFiles([{ path: "a/b.txt", data: new Uint8Array([104, 105]) }]);
   * console.log(await fs.readDir("a")); // [{ name: "b.txt", isDirectory: false }]
   * ```
   */
  static fromFiles(files: Iterable<MemoryFile>): MemoryFileSystem {
    const fs = new MemoryFileSystem();
    for (const { path, data } of files) fs.#put(path, data);
    return fs;
  }

  /**
   * A file system holding files a user picked in a page: those of a picked folder keep their
   * path inside it (`beans/train/healthy/1.jpg`), single files sit at the top under their name.
   *
   * @param files `File`s from an `<input type="file">` (with `webkitdirectory` for folders) or
   *   a drop.
   * @param root A folder to put them under ("" for none).
   * @returns The file system.
   * @example
   * ```ts
   * import { MemoryFileSystem } from "./memory_fs.ts";
   * const file = new File(["{}"], "config.json");
   * const fs = await MemoryFileSystem.fromPickedFiles([file], "model");
   * console.log(fs.paths()); // ["model/config.json"]
   * ```
   */
  static async fromPickedFiles(
    files: Iterable<PickedFile>,
    root = "",
  ): Promise<MemoryFileSystem> {
    const fs = new MemoryFileSystem();
    for (const file of files) {
      const inside = file.webkitRelativePath || file.name;
      fs.#put(root ? `${root}/${inside}` : inside, new Uint8Array(await file.arrayBuffer()));
    }
    return fs;
  }

  #put(path: string, data: Uint8Array): void {
    const p = normalize(path);
    if (p === "" || p === "/") throw new FileError(path, "is a directory");
    if (this.#isDir(p)) throw new FileError(path, "is a directory");
    for (let dir = parentOf(p); dir !== "" && dir !== "/"; dir = parentOf(dir)) {
      if (this.#files.has(dir)) throw new FileError(path, "a parent is not a folder");
    }
    this.#files.set(p, data);
  }

  #isDir(p: string): boolean {
    if (p === "" || p === "/" || this.#dirs.has(p)) return true;
    for (const key of this.#files.keys()) if (isInside(key, p)) return true;
    for (const key of this.#dirs) if (isInside(key, p)) return true;
    return false;
  }

  /**
   * Every file's path, sorted.
   *
   * @returns The paths.
   */
  paths(): string[] {
    return [...this.#files.keys()].sort();
  }

  /**
   * The files under a folder (all of them for ""), sorted by path: what a page offers as
   * downloads after training.
   *
   * @param dir The folder.
   * @returns Paths (as stored, including `dir`) and contents.
   */
  filesUnder(dir = ""): MemoryFile[] {
    const d = normalize(dir);
    return this.paths()
      .filter((p) => d === "" || isInside(p, d))
      .map((path) => ({ path, data: this.#files.get(path)! }));
  }

  /**
   * Stores a file's bytes without copying them, and hands the same bytes to every reader
   * ({@link readFile} copies other files): how a large download (a Hub model's weights) is held
   * once from the network to the loader. Nobody may write into them afterwards; writing the file
   * again replaces them with a copy.
   *
   * @param path The file.
   * @param data Its bytes, given up by the caller.
   * @throws {FileError} When the path is a folder or under a file.
   * @example
   * ```ts
   * import { MemoryFileSystem } from "./memory_fs.ts";
   * const fs = new MemoryFileSystem();
   * const weights = new Uint8Array(1024);
   * fs.adoptFile("model/model.safetensors", weights);
   * console.log((await fs.readFile("model/model.safetensors")) === weights); // true
   * ```
   */
  adoptFile(path: string, data: Uint8Array): void {
    this.#put(path, data);
    this.#adopted.add(data);
  }

  /**
   * Reads a whole file.
   *
   * @param path The file.
   * @returns A copy of its bytes; for a file stored by {@link adoptFile}, those bytes
   * themselves.
   */
  readFile(path: string): Promise<Uint8Array> {
    const p = normalize(path);
    const data = this.#files.get(p);
    if (data) return Promise.resolve(this.#adopted.has(data) ? data : data.slice());
    return Promise.reject(
      new FileError(path, this.#isDir(p) ? "is a directory" : "file not found"),
    );
  }

  /**
   * Writes a whole file (a copy of `data`), creating its folders; replacing an entry of a map
   * is atomic already.
   *
   * @param path The file.
   * @param data Its bytes.
   */
  writeFile(path: string, data: Uint8Array): Promise<void> {
    try {
      this.#put(path, data.slice());
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Appends to a file, creating it when missing.
   *
   * @param path The file.
   * @param data The bytes to add.
   */
  appendFile(path: string, data: Uint8Array): Promise<void> {
    const old = this.#files.get(normalize(path));
    if (!old) return this.writeFile(path, data);
    const joined = new Uint8Array(old.byteLength + data.byteLength);
    joined.set(old);
    joined.set(data, old.byteLength);
    this.#files.set(normalize(path), joined);
    return Promise.resolve();
  }

  /**
   * Lists a folder.
   *
   * @param path The folder.
   * @returns Its entries.
   */
  readDir(path: string): Promise<DirEntry[]> {
    const p = normalize(path);
    if (this.#files.has(p)) return Promise.reject(new FileError(path, "not a folder"));
    if (!this.#isDir(p)) return Promise.reject(new FileError(path, "file not found"));
    const prefix = p === "" ? "" : p === "/" ? "/" : `${p}/`;
    const seen = new Map<string, boolean>();
    for (const key of [...this.#files.keys(), ...this.#dirs]) {
      if (!isInside(key, p)) continue;
      const rest = key.slice(prefix.length);
      const slash = rest.indexOf("/");
      const name = slash < 0 ? rest : rest.slice(0, slash);
      seen.set(name, (seen.get(name) ?? false) || slash >= 0 || this.#dirs.has(key));
    }
    return Promise.resolve([...seen].map(([name, isDirectory]) => ({ name, isDirectory })));
  }

  /**
   * Describes a path.
   *
   * @param path The file or folder.
   * @returns Its kind and size, or null when nothing is there.
   */
  stat(path: string): Promise<FileInfo | null> {
    const p = normalize(path);
    const data = this.#files.get(p);
    if (data) return Promise.resolve({ isDirectory: false, size: data.byteLength });
    return Promise.resolve(this.#isDir(p) ? { isDirectory: true, size: 0 } : null);
  }

  /**
   * Creates a folder and its parents.
   *
   * @param path The folder.
   */
  mkdir(path: string): Promise<void> {
    const p = normalize(path);
    for (let dir = p; dir !== "" && dir !== "/"; dir = parentOf(dir)) {
      if (this.#files.has(dir)) {
        return Promise.reject(
          new FileError(path, dir === p ? "a file is there" : "a parent is not a folder"),
        );
      }
    }
    if (p !== "" && p !== "/") this.#dirs.add(p);
    return Promise.resolve();
  }

  /**
   * Removes a file or a folder with its contents; no error when missing.
   *
   * @param path The file or folder.
   */
  remove(path: string): Promise<void> {
    const p = normalize(path);
    this.#files.delete(p);
    this.#dirs.delete(p);
    for (const key of [...this.#files.keys()]) if (isInside(key, p)) this.#files.delete(key);
    for (const key of [...this.#dirs]) if (isInside(key, p)) this.#dirs.delete(key);
    return Promise.resolve();
  }

  /**
   * Moves a file or a folder with its contents. A file replaces a file; a folder may replace
   * only an empty one, as on a disk.
   *
   * @param from Where it is.
   * @param to Where it goes.
   */
  async rename(from: string, to: string): Promise<void> {
    const f = normalize(from);
    const t = normalize(to);
    const source = await this.stat(f);
    if (!source) throw new FileError(from, `cannot move to ${to} (file not found)`);
    if (f === t) return;
    if (isInside(t, f)) throw new FileError(from, `cannot move to ${to} (inside itself)`);
    const target = await this.stat(t);
    if (target && target.isDirectory !== source.isDirectory) {
      throw new FileError(
        from,
        `cannot move to ${to} (${target.isDirectory ? "a folder" : "a file"} is there)`,
      );
    }
    if (target?.isDirectory && (await this.readDir(t)).length > 0) {
      throw new FileError(from, `cannot move to ${to} (folder not empty)`);
    }
    await this.mkdir(parentOf(t)).catch((error: FileError) => {
      throw new FileError(from, `cannot move to ${to} (${error.reason})`);
    });
    if (!source.isDirectory) {
      this.#files.set(t, this.#files.get(f)!);
      this.#files.delete(f);
      return;
    }
    this.#dirs.delete(t);
    const moved = (key: string) => t + key.slice(f.length);
    for (const key of [...this.#files.keys()]) {
      if (!isInside(key, f)) continue;
      this.#files.set(moved(key), this.#files.get(key)!);
      this.#files.delete(key);
    }
    for (const key of [...this.#dirs]) {
      if (key !== f && !isInside(key, f)) continue;
      this.#dirs.add(moved(key));
      this.#dirs.delete(key);
    }
  }
}
