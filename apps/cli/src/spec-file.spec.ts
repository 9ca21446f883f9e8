import { createHash } from 'node:crypto';
import { UsageError } from './errors';
import { jsonErrorOffset, loadSpecFile, parseSpecText } from './spec-file';

const YAML_SPEC = `# a comment
name: ranks
baseModel: sotu-gpt2-small
dataset: moby-dick
variants: [lora]
searchSpace:
  r: [8, 0]
  lr: 3e-3
  alpha:
    - 16
    - -1
  targetModules:
    - [c_attn, q_proj]
training:
  stepz: 3
  steps: 6
`;

describe('parseSpecText (YAML)', () => {
  const spec = parseSpecText('sweep.yaml', YAML_SPEC);

  it('parses YAML 1.2 values (3e-3 is a number)', () => {
    expect(spec.format).toBe('yaml');
    expect(spec.data).toMatchObject({ baseModel: 'sotu-gpt2-small', variants: ['lora'], searchSpace: { r: [8, 0], lr: 0.003 } });
    expect(spec.sha256).toBe(createHash('sha256').update(YAML_SPEC).digest('hex'));
  });

  it('maps an element of a flow list to its line and column', () => {
    expect(spec.locate('searchSpace.r.1')).toEqual({ line: 7, col: 10, text: '  r: [8, 0]', exact: true });
  });

  it('maps an element of a block list and nested lists', () => {
    expect(spec.locate('searchSpace.alpha.1')).toMatchObject({ line: 11, col: 7, exact: true });
    expect(spec.locate('searchSpace.targetModules.0.1')).toMatchObject({ line: 13, col: 16, exact: true });
  });

  it('maps a key (unknown fields, top-level fields) to the line of the key', () => {
    expect(spec.locate('training.stepz')).toMatchObject({ line: 15, col: 3, text: '  stepz: 3', exact: true });
    expect(spec.locate('dataset')).toMatchObject({ line: 4, col: 1 });
  });

  it('falls back to the deepest existing node for scalar shorthand', () => {
    expect(spec.locate('searchSpace.lr.0')).toMatchObject({ line: 8, exact: false });
  });

  it('has no location for missing fields and the whole body', () => {
    expect(spec.locate('budget.maxTrials')).toBeUndefined();
    expect(spec.locate('(body)')).toBeUndefined();
    expect(spec.locate('')).toBeUndefined();
  });
});

describe('parseSpecText (JSON)', () => {
  const text = '{\n  "baseModel": "m",\n  "dataset": "d",\n  "variants": ["lora"],\n  "searchSpace": { "r": [4, 0] }\n}\n';
  it('parses strictly as JSON and still maps paths to lines', () => {
    const spec = parseSpecText('sweep.json', text);
    expect(spec.format).toBe('json');
    expect(spec.data).toEqual({ baseModel: 'm', dataset: 'd', variants: ['lora'], searchSpace: { r: [4, 0] } });
    expect(spec.locate('searchSpace.r.1')).toMatchObject({ line: 5, exact: true });
  });
  it('names file, line and column of a syntax error', () => {
    expect(() => parseSpecText('bad.json', '{\n  "baseModel": "m",\n  "dataset": \n}\n')).toThrow(
      "bad.json:4:1: invalid JSON: Unexpected token '}'",
    );
    expect(() => parseSpecText('bad.json', '{"a": [1, 2}')).toThrow("bad.json:1:12: invalid JSON: Expected ',' or ']' after array element");
  });
  it('finds the offset of JSON syntax errors', () => {
    expect(jsonErrorOffset('{"a": [1, {"b": null}], "c": "x\\"", "d": -1.5e3}')).toBe(-1);
    expect(jsonErrorOffset('{"a": 1,}')).toBe(8);
    expect(jsonErrorOffset('{"a": tru}')).toBe(6);
    expect(jsonErrorOffset('{"a": 1')).toBe(7);
    expect(jsonErrorOffset('{} x')).toBe(3);
  });
});

describe('bad files → UsageError (exit 2)', () => {
  const err = (f: () => unknown): UsageError => {
    try {
      f();
    } catch (e) {
      return e as UsageError;
    }
    throw new Error('did not throw');
  };

  it('invalid YAML names the file, line and column', () => {
    const e = err(() => parseSpecText('s.yaml', 'baseModel: m\nsearchSpace:\n  r: [4, 8\ntraining: {}\n'));
    expect(e).toBeInstanceOf(UsageError);
    expect(e.exitCode).toBe(2);
    expect(e.message).toMatch(/^s\.yaml:\d+:\d+: invalid YAML: /);
  });
  it('duplicate keys are an error', () => {
    expect(err(() => parseSpecText('s.yaml', 'dataset: a\ndataset: b\n')).message).toMatch(
      /^s\.yaml:2:1: invalid YAML: Map keys must be unique/,
    );
  });
  it('a file that is not a mapping', () => {
    expect(err(() => parseSpecText('s.yaml', '- lora\n- dora\n')).message).toMatch(/must be a mapping of fields .* not a list/);
    expect(err(() => parseSpecText('s.yaml', '')).message).toMatch(/s\.yaml is empty/);
  });
  it('a missing file', () => {
    const e = err(() => loadSpecFile('/no/such/sweep.yaml'));
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toBe('cannot read /no/such/sweep.yaml: no such file');
  });
});
