// Concatenates tokenized documents into one id stream for training/evaluation windows, with a
// document boundary marker (eos, or an encoded blank line) between consecutive documents.
import type { Document } from './datasets';
import type { Tokenizer } from './tokenizer';

/** Tokenizes and concatenates documents; separator: eos id if the tokenizer has one, else "\n\n". */
export function tokenizeDocuments(docs: readonly Document[], tokenizer: Tokenizer): Int32Array {
  const separator = tokenizer.eosTokenId !== null ? [tokenizer.eosTokenId] : tokenizer.encode('\n\n');
  // Grown by doubling: avoids holding a number[] of the whole corpus (sotu is ~10 M ids).
  let out = new Int32Array(1 << 16);
  let length = 0;
  const append = (ids: number[]) => {
    if (length + ids.length > out.length) {
      let size = out.length;
      while (size < length + ids.length) size *= 2;
      const grown = new Int32Array(size);
      grown.set(out.subarray(0, length));
      out = grown;
    }
    out.set(ids, length);
    length += ids.length;
  };
  docs.forEach((doc, i) => {
    if (i > 0) append(separator);
    append(tokenizer.encode(doc.text));
  });
  return out.slice(0, length);
}
