// The packaged app (electron-builder.yml), checked with electron-builder's own config loader, schema and
// file matching against the real node_modules: what is loaded natively or read by the tile workers must be
// unpacked from app.asar, and the checkpoints the host looks for must be copied where it looks.
import { existsSync, lstatSync, readdirSync, readFileSync, type Stats } from 'node:fs';
import path from 'node:path';
import { getConfig, validateConfiguration } from 'app-builder-lib/out/util/config/config';
import { getFileMatchers } from 'app-builder-lib/out/fileMatcher';
import type { Configuration } from 'app-builder-lib';
import { DebugLogger } from 'builder-util/out/DebugLogger';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { findMaximModel, type GraphModelJson } from '../../src/engine/model/maxim';
import { REPO_ROOT } from '../helpers/paths';

/** Where electron-builder puts the app's resources and the app itself (any path will do for matching). */
const RESOURCES = path.resolve('/packaged/resources');
const APP = path.join(RESOURCES, 'app');

/** Files loaded as native code or WebAssembly. */
const NATIVE = /\.(node|dylib|dll|wasm)$|\.so(\.\d+)*$/;

let config: Configuration;

beforeAll(async () => {
  config = await getConfig(REPO_ROOT, null, null);
});

function matchers(name: 'files' | 'extraResources' | 'asarUnpack', destination: string) {
  return (
    getFileMatchers(config, name, destination, {
      macroExpander: (pattern) => pattern,
      customBuildOptions: {},
      globalOutDir: path.join(REPO_ROOT, 'dist'),
      defaultSrc: REPO_ROOT,
    }) ?? []
  );
}

/**
 * Whether electron-builder unpacks `file` (under node_modules or the app) from app.asar: its asarUnpack
 * filter, given the path inside the app as the packager gives it for a module's files.
 */
function unpacked(file: string): boolean {
  const [matcher] = matchers('asarUnpack', APP);
  if (!matcher) return false;
  const stat: Stats & { moduleFullFilePath?: string } = lstatSync(file);
  stat.moduleFullFilePath = path.relative(REPO_ROOT, file);
  return matcher.createFilter()(file, stat);
}

/** A package's folder as Node finds it from `from` (the nearest node_modules upwards), or null. */
function findPackage(name: string, from: string): string | null {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (path.basename(dir) !== 'node_modules' && existsSync(path.join(candidate, 'package.json'))) {
      return candidate;
    }
    if (dir === REPO_ROOT || dir === path.dirname(dir)) return null;
  }
}

/** The folders of the packages the app ships: dependencies and optional dependencies, recursively. */
function runtimePackages(): string[] {
  const found = new Set<string>();
  const visit = (dir: string): void => {
    const json = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
    };
    for (const name of Object.keys({ ...json.dependencies, ...json.optionalDependencies })) {
      const folder = findPackage(name, dir);
      if (folder && !found.has(folder)) {
        found.add(folder);
        visit(folder);
      }
    }
  };
  visit(REPO_ROOT);
  return [...found];
}

/** The files of a package matching `pattern` (its own node_modules are packages of their own). */
function filesIn(dir: string, pattern: RegExp): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : filesIn(file, pattern);
    return pattern.test(entry.name) ? [file] : [];
  });
}

describe('packaging (electron-builder.yml)', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.resetModules();
    delete (process as { resourcesPath?: string }).resourcesPath;
  });

  it("passes electron-builder's schema", async () => {
    await expect(validateConfiguration(config, new DebugLogger(false))).resolves.toBeUndefined();
  });

  it('unpacks every native library and WebAssembly module of the runtime dependencies from app.asar', () => {
    const natives = runtimePackages().flatMap((dir) => filesIn(dir, NATIVE));
    // Not vacuous: sharp is a dependency, and onnxruntime's binding for this machine is there when installed.
    expect(natives.some((file) => /sharp.*\.node$/.test(file))).toBe(true);
    const ort = findPackage('onnxruntime-node', REPO_ROOT);
    if (ort) {
      const binding = path.join(
        ort,
        'bin',
        'napi-v6',
        process.platform,
        process.arch,
        'onnxruntime_binding.node',
      );
      expect(natives).toContain(binding);
    }
    const packed = natives.filter((file) => !unpacked(file)).map((file) => path.relative(REPO_ROOT, file));
    expect(packed).toEqual([]);
  });

  it("unpacks learned mode's network: the model.json the engine finds and its weight shards", () => {
    vi.stubEnv('BLURSPACE_LEARNED_MODEL', '');
    const modelJson = findMaximModel();
    expect(modelJson).not.toBeNull();
    const json = JSON.parse(readFileSync(modelJson!, 'utf8')) as GraphModelJson;
    const shards = json.weightsManifest.flatMap((group) =>
      group.paths.map((shard) => path.join(path.dirname(modelJson!), shard)),
    );
    expect(shards.length).toBeGreaterThan(0);
    const packed = [modelJson!, ...shards].filter((file) => !unpacked(file));
    expect(packed.map((file) => path.relative(REPO_ROOT, file))).toEqual([]);
  });

  it('packs the built entry points the engine starts as threads and processes (they run from app.asar)', () => {
    const [matcher] = matchers('files', APP);
    const filter = matcher!.createFilter();
    for (const name of [
      'index',
      'engine-worker',
      'deconvolution-worker',
      'restorer-worker',
      'fast-mode-worker',
      'learned-mode-worker',
      'blind-estimate-worker',
    ]) {
      const file = path.join(REPO_ROOT, 'out', 'main', `${name}.js`);
      expect(existsSync(file), file).toBe(true);
      expect(filter(file, lstatSync(file)), file).toBe(true);
      expect(unpacked(file), file).toBe(false);
    }
  });

  it('copies the shipped checkpoints to where the packaged host looks for them (extraResources)', async () => {
    const inCheckout = await import('../../src/host/paths');
    vi.resetModules();
    (process as { resourcesPath?: string }).resourcesPath = RESOURCES;
    const packaged = await import('../../src/host/paths');
    const names = ['DEFAULT_CHECKPOINT', 'DEFAULT_VAE_CHECKPOINT', 'DEFAULT_RESTORER'] as const;
    for (const name of names) {
      const source = inCheckout[name];
      expect(existsSync(source), source).toBe(true);
      const copiedTo = matchers('extraResources', RESOURCES)
        .filter((matcher) => source.startsWith(matcher.from + path.sep))
        .filter((matcher) => matcher.createFilter()(source, lstatSync(source)))
        .map((matcher) => path.join(matcher.to, path.relative(matcher.from, source)));
      expect(copiedTo, name).toContain(packaged[name]);
    }
  });
});
