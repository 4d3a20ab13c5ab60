/**
 * Bandit games in the result store's generic record table: one record per finished (or abandoned) game, with all
 * its trials in the payload, so a game is written once and atomically and a replayed game replaces itself whole.
 */
import type { ResultStore, TaskRecord } from '../../store/results.js';
import { collect } from '../../store/results.js';
import type { TrialRow } from './game.js';

/** A trial row as the seed logs it, plus what the model said. */
export type StoredTrial = Omit<TrialRow, 'persona' | 'game'> & {
  logprob1: number | null;
  logprob2: number | null;
  attempts: number;
  rawText: string | null;
  promptHash: string;
};

export interface StoredGame {
  run: string;
  persona: string;
  game: number;
  mu1: number;
  mu2: number;
  abandoned: boolean;
  backend: string;
  /** Empty for an abandoned game (the seed writes no rows for it). */
  trials: StoredTrial[];
}

const TASK = 'bandit';
const KIND = 'game';

export function gameKey(persona: string, game: number): string {
  return JSON.stringify([persona, game]);
}

export async function saveGames(store: ResultStore, games: StoredGame[]): Promise<void> {
  await store.putRecords(
    games.map((g): TaskRecord => ({
      run: g.run,
      task: TASK,
      kind: KIND,
      key: gameKey(g.persona, g.game),
      unit: g.game,
      flag: g.abandoned,
      payload: { ...g, trials: g.abandoned ? [] : g.trials },
    })),
  );
}

/** `gameKey`s of the games of [start, end) already stored. */
export function storedGameKeys(store: ResultStore, run: string, start: number, end: number): Promise<Set<string>> {
  return store.recordKeys({ run, task: TASK, kind: KIND, from: start, to: end });
}

export async function countGames(store: ResultStore, run: string, start?: number, end?: number): Promise<{ games: number; abandoned: number }> {
  const { records, flagged } = await store.countRecords({ run, task: TASK, kind: KIND, from: start, to: end });
  return { games: records, abandoned: flagged };
}

/** All games of the run, by persona then game. */
export async function loadGames(store: ResultStore, run: string): Promise<StoredGame[]> {
  const games = (await collect(store.streamRecords({ run, task: TASK, kind: KIND }))).map((r) => r.payload as StoredGame);
  return games.sort((a, b) => (a.persona < b.persona ? -1 : a.persona > b.persona ? 1 : a.game - b.game));
}
