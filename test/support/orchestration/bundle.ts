// Gathers a template, its environments and every file they refer to from disk into the shape the
// Heat API receives (template, files keyed by file:// URL, merged environment), the way
// heatclient's template_utils does for `openstack stack create -t ... -e ...`. Used by the corpus
// and template tests. Unlike heatclient, a missing file does not abort: it is listed in
// `missing`, and validation reports it where it is referred to.
import { readFileSync, existsSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { parseSource, isMapping, type Json, type JsonMap } from '../../../src/orchestration/yaml-source.js';
import { checkEnvironment, mergeEnvironments, type Environment } from '../../../src/orchestration/environment.js';

export interface Bundle {
  templateKey: string;
  template: string;
  files: Record<string, string>;
  environment: Environment;
  /** file:// URLs referred to but absent on disk. */
  missing: string[];
}

function isTemplateText(text: string): boolean {
  try {
    const d = parseSource(text, 'probe').data;
    return isMapping(d) && ('heat_template_version' in d || 'HeatTemplateFormatVersion' in d || 'AWSTemplateFormatVersion' in d);
  } catch {
    return false;
  }
}

class Collector {
  readonly files: Record<string, string> = {};
  readonly missing = new Set<string>();

  read(url: string): string | undefined {
    if (url in this.files) return this.files[url];
    const path = fileURLToPath(url);
    if (!existsSync(path)) {
      this.missing.add(url);
      return undefined;
    }
    const text = readFileSync(path, 'utf8');
    this.files[url] = text;
    if (isTemplateText(text)) this.walkTemplate(text, url);
    return text;
  }

  walkTemplate(text: string, url: string): void {
    let data: Json;
    try {
      data = parseSource(text, url).data;
    } catch {
      return; // reported when the template itself is validated
    }
    const visit = (v: Json): void => {
      if (Array.isArray(v)) return v.forEach(visit);
      if (!isMapping(v)) return;
      for (const [k, x] of Object.entries(v)) {
        if (k === 'get_file' && typeof x === 'string') this.read(new URL(x, url).href);
        else if (k === 'type' && typeof x === 'string' && /\.(yaml|template)$/.test(x)) this.read(new URL(x, url).href);
        else visit(x);
      }
    };
    visit(data);
  }
}

/** Rewrites registry file entries to absolute URLs (as heatclient does) and collects them. */
function resolveRegistry(env: Environment, envUrl: string, c: Collector): void {
  const rr = env.resource_registry;
  const base = typeof rr.base_url === 'string' ? rr.base_url : envUrl;
  const fix = (map: JsonMap, b: string) => {
    for (const [k, v] of Object.entries(map)) {
      if (k === 'base_url' || k === 'hooks' || k === 'restricted_actions' || typeof v !== 'string' || v.includes('::')) continue;
      const url = new URL(v, b).href;
      map[k] = url;
      c.read(url);
    }
  };
  fix(rr, base);
  const per = rr.resources;
  if (isMapping(per ?? null)) {
    for (const entry of Object.values(per as JsonMap)) {
      if (isMapping(entry)) fix(entry, typeof entry.base_url === 'string' ? entry.base_url : base);
    }
  }
}

export function bundleFromDisk(templatePath: string, envPaths: string[] = []): Bundle {
  const c = new Collector();
  const templateKey = pathToFileURL(resolvePath(templatePath)).href;
  const template = readFileSync(templatePath, 'utf8');
  c.walkTemplate(template, templateKey);
  const envs = envPaths.map((p) => {
    const url = pathToFileURL(resolvePath(p)).href;
    const env = checkEnvironment(parseSource(readFileSync(p, 'utf8'), p));
    resolveRegistry(env, url, c);
    return env;
  });
  return { templateKey, template, files: c.files, environment: mergeEnvironments(envs), missing: [...c.missing].sort() };
}
