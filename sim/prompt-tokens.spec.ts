import { seededRandom } from './hash';
import { chatPromptTokens, rawPromptTokens, roleTokenId, textTokenIds } from './prompt-tokens';
import { countChatTokens, countTokens, TokenSource } from './token-text';

/** Token ids of prompts: the simulator's counts, and prefixes that survive a conversation's next turn. */

function randomText(seed: number, words: number): string {
  const rnd = seededRandom(seed);
  const pieces = ['alpha', 'beta,', 'gamma.', '(delta)', 'x', 'don\'t', 'a-b-c', '#tag', 'ünïcode', '42', 'end!'];
  const seps = [' ', '  ', '\n', '\t', ' \r\n'];
  let text = '';
  for (let i = 0; i < words; i++) {
    text += pieces[Math.floor(rnd() * pieces.length)];
    if (i < words - 1) text += seps[Math.floor(rnd() * seps.length)];
  }
  return text;
}

describe('textTokenIds', () => {
  it('gives exactly countTokens ids for any text', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const text = randomText(seed, seed % 37);
      expect(textTokenIds(text)).toHaveLength(countTokens(text));
    }
    expect(textTokenIds('')).toEqual([]);
    expect(textTokenIds('  \n\t ')).toEqual([]);
  });

  it('is deterministic, and a text extended at a word boundary extends the ids', () => {
    const a = randomText(7, 30);
    const b = randomText(8, 12);
    expect(textTokenIds(a)).toEqual(textTokenIds(a));
    const ab = textTokenIds(`${a} ${b}`);
    expect(ab.slice(0, textTokenIds(a).length)).toEqual(textTokenIds(a));
    expect(textTokenIds('the sky is blue')).not.toEqual(textTokenIds('the sky is red'));
    expect(textTokenIds('the sky is blue').slice(0, 3)).toEqual(textTokenIds('the sky is red').slice(0, 3));
  });
});

describe('chatPromptTokens', () => {
  it('gives countChatTokens ids: a role marker, the content and three end-of-turn tokens per message', () => {
    const contents = ['You are terse.', 'Why is the sky blue?', ''];
    const roles = ['system', 'user', 'assistant'];
    const { ids } = chatPromptTokens(roles, contents);
    expect(ids).toHaveLength(countChatTokens(contents));
    expect(ids[0]).toBe(roleTokenId('system'));
    expect(ids[4 + countTokens(contents[0])]).toBe(roleTokenId('user'));
  });

  it('stores prompt + answer so that it is a prefix of the next turn', () => {
    const answer = new TokenSource(99).take(40).join('');
    const turn1 = chatPromptTokens(['system', 'user'], ['Be brief.', 'Explain scattering.']);
    const stored = [...turn1.ids, ...turn1.answerIds(answer)];
    const turn2 = chatPromptTokens(['system', 'user', 'assistant', 'user'], ['Be brief.', 'Explain scattering.', answer, 'And sunsets?']);
    expect(turn2.ids.slice(0, stored.length)).toEqual(stored);
    // what turn 2 evaluates: the assistant message's end of turn and the new user message
    expect(turn2.ids.length - stored.length).toBe(3 + 4 + countTokens('And sunsets?'));
  });
});

describe('rawPromptTokens', () => {
  it('counts system and prompt apart, at least one token', () => {
    expect(rawPromptTokens('be brief', 'why is the sky blue?').ids).toHaveLength(countTokens('be brief') + countTokens('why is the sky blue?'));
    expect(rawPromptTokens('', '   ').ids).toHaveLength(1);
  });

  it('continues the prompt with the answer, so prompt + answer + more extends what the slot holds', () => {
    const prompt = randomText(3, 25);
    const answer = new TokenSource(5).take(30).join('');
    const first = rawPromptTokens('sys text', prompt);
    const stored = [...first.ids, ...first.answerIds(answer)];
    const next = rawPromptTokens('sys text', `${prompt}\n${answer}\nWhat next?`);
    expect(next.ids.slice(0, stored.length)).toEqual(stored);
    expect(next.ids).toHaveLength(countTokens('sys text') + countTokens(`${prompt}\n${answer}\nWhat next?`));
  });
});
