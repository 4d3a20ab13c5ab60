import { describe, expect, it } from 'vitest';
import type { PromptFormat } from '../prompts/formats.js';
import { BanditEnv, type Arm } from '../tasks/bandit/env.js';
import { npRound1 } from '../tasks/bandit/format.js';
import { buildBanditPrompt, HISTORY_HEAD, IMPERSONATION_PROMPT, INSTRUCTION_TEMPLATE, LLM_START, QUESTION } from '../tasks/bandit/prompts.js';
import { golden, sha256 } from './support/golden.js';

const g = golden('bandit.json');

/** Backend labels in the golden file → our formats. */
function formatOf(backend: string): PromptFormat {
  if (backend.startsWith('plain')) return 'plain';
  if (backend.startsWith('llama-3')) return 'llama3_chat';
  if (backend.startsWith('vicuna')) return 'vicuna_v1.1';
  if (backend.startsWith('llama-2')) return 'llama2_chat';
  throw new Error(`unknown backend ${backend}`);
}

describe('constants match the golden file', () => {
  it('byte for byte', () => {
    const c = g.constants;
    expect(INSTRUCTION_TEMPLATE).toBe(c.instruction_template);
    expect(IMPERSONATION_PROMPT).toBe(c.impersonation_prompt);
    expect(QUESTION).toBe(c.question);
    expect(HISTORY_HEAD).toBe(c.history_head);
    expect(LLM_START).toBe(c.llm_start_msg);
  });
});

const renderings = (g.cases as any[]).flatMap((c) =>
  (c.renderings as any[]).map((r) => ({ c, r, label: `${c.inputs.persona} / trial ${c.inputs.trial} / ${formatOf(r.backend)}` })),
);

describe('golden cases', () => {
  it.each(renderings)('$label', ({ c, r }) => {
    const raw = c.inputs.history_raw_rewards ?? { machine1: [], machine2: [] };
    const history = [raw.machine1.map(npRound1), raw.machine2.map(npRound1)] as const;
    const p = buildBanditPrompt(c.inputs.persona, c.inputs.trial_index0, history, formatOf(r.backend));
    expect(p.text).toBe(r.rendered);
    expect(sha256(p.text)).toBe(r.sha256_utf8);
    expect(p.text.length).toBe(r.chars);
  });

  it('shapes the turns per format', () => {
    const h = [[], []] as const;
    expect(buildBanditPrompt('none', 0, h, 'llama3_chat').system).toBe('You are a none.');
    expect(buildBanditPrompt('None', 1, h, 'plain').user).toContain('If you were a None,');
    const l2 = buildBanditPrompt('2 year old', 0, h, 'llama2_chat');
    expect(l2).toMatchObject({ system: 'Act as if you were a 2 year old.', assistantPrefix: 'Answer: Machine' });
    expect(l2.user.endsWith('machine 2?')).toBe(true);
    const v = buildBanditPrompt('2 year old', 0, h, 'vicuna_v1.1');
    expect(v.system).toBeUndefined();
    expect(v.assistantPrefix).toBeUndefined();
    expect(buildBanditPrompt('$& year old', 0, h, 'plain').user).toContain('If you were a $& year old,');
  });
});

// The trace's prompts carry no sha256 in the golden file; exact string equality is the check.
describe('env_trace prompts (all 10 trials, plain and llama-3)', () => {
  const t = g.env_trace;
  const env = new BanditEnv({ mean1: t.inputs.mean1_float32, mean2: t.inputs.mean2_float32, R1s: t.inputs.R1s_float64, R2s: t.inputs.R2s_float64 });
  const actions = t.inputs.actions_index0 as Arm[];
  const rendered = actions.map((a) => {
    const plain = buildBanditPrompt(t.persona, env.trial, env.history, 'plain').text;
    const llama3 = buildBanditPrompt(t.persona, env.trial, env.history, 'llama3_chat').text;
    env.step(a);
    return { plain, llama3 };
  });
  it.each((t.prompts as any[]).map((p, i) => [p.trial, p, i]))('trial %i', (_trial, p: any, i) => {
    const got = rendered[i as number]!;
    expect(got.plain).toBe(p.plain);
    expect(got.llama3).toBe(p.llama3_fork);
  });
});
