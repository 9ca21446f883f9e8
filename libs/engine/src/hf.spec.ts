import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './backend';
import { loadHfModel } from './hf';

const SHIPPED = join(__dirname, '../../../models/sotu-gpt2-small');

beforeAll(async () => {
  await initBackend('cpu');
});

describe('the shipped default base model', () => {
  it('loads as a frozen byte-level GPT-2 and predicts State of the Union prose well below the unigram entropy', async () => {
    const { model, tokenizer, config } = await loadHfModel(SHIPPED);
    expect(tokenizer.name).toBe('byte');
    expect(config).toMatchObject({ vocabSize: 256, nEmbd: 128, nLayer: 4, nHead: 4, nPositions: 128 });
    expect(model.namedTrainableVariables()).toHaveLength(0);
    const ids = tokenizer.encode('The Congress of the United States has the power to lay and collect taxes, and the people expect');
    const x = tf.tensor2d(ids.slice(0, -1), [1, ids.length - 1], 'int32');
    const y = tf.tensor2d(ids.slice(1), [1, ids.length - 1], 'int32');
    const loss = model.loss(x, y);
    expect((await loss.data())[0]).toBeLessThan(2.2); // unigram byte entropy of the corpus: 3.01 nats
    tf.dispose([x, y, loss]);
    model.dispose();
  });
});
