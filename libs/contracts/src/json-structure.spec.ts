import { checkJsonStructure, MAX_JSON_DEPTH, parseJsonLines } from './json-structure';

const check = (text: string) => checkJsonStructure(text, JSON.parse(text));

describe(checkJsonStructure.name, () => {
  it('should pass ordinary JSON, whatever its strings hold', () => {
    const text = JSON.stringify([{ a: '{"a":1,"a":2}', b: ['x', { c: 'q\\"uote"', d: [[[]]] }], e: {} }, { a: 1 }]);
    expect(checkJsonStructure(text, JSON.parse(text))).toBeUndefined();
    expect(checkJsonStructure(' [ {} , { "a" : 1 } , "x" , 2 ] ', JSON.parse(' [ {} , { "a" : 1 } , "x" , 2 ] '))).toBeUndefined();
  });

  it.each([
    ['{"a":1,"a":2}', '/a'],
    ['[{"x":1},{"x":1,"m":{"k":1,"k":2}}]', '/1/m/k'],
    ['{"a":[1,{"b":1,"b":1}]}', '/a/1/b'],
    ['{"a":1,"\\u0061":2}', '/a'],
    ['{"x/y":1,"x/y":2}', '/x~1y'],
    ['{"\\\\":1,"\\\\":2}', '/\\'],
    ['{ "a" : 1 , "b" : { "c" : 2 , "c" : 3 } }', '/b/c'],
  ])('should name the duplicated key of %s at %s', (text, pointer) => {
    expect(check(text)).toMatchObject({ kind: 'duplicate_key', pointer });
  });

  it('should treat the same key in different objects as distinct', () => {
    expect(check('[{"a":1},{"a":1}]')).toBeUndefined();
    expect(check('{"a":{"a":{"a":1}}}')).toBeUndefined();
  });

  it('should refuse nesting deeper than the bound, without recursion, and name where', () => {
    const deep = '{"m":'.repeat(100_000) + '1' + '}'.repeat(100_000);
    const r = check(deep);
    expect(r?.kind).toBe('too_deep');
    expect(r?.pointer).toBe('/m'.repeat(MAX_JSON_DEPTH));
    expect(check('['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH))).toBeUndefined();
    expect(check('['.repeat(MAX_JSON_DEPTH + 1) + ']'.repeat(MAX_JSON_DEPTH + 1))?.kind).toBe('too_deep');
  });
});

describe(parseJsonLines.name, () => {
  it('should read one value per line, with or without the last line end, and none from an empty text', () => {
    expect(parseJsonLines('{"a":1}\n{"b":"x\\ny"}\n')).toEqual([{ a: 1 }, { b: 'x\ny' }]);
    expect(parseJsonLines('{"a":1}')).toEqual([{ a: 1 }]);
    expect(parseJsonLines('')).toEqual([]);
    expect(() => parseJsonLines('{"a":1}\n\n')).toThrow(SyntaxError);
  });
});
