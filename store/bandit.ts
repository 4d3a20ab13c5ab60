/** Bandit games in the result store: a finished game is written once, with all its trials, in one transaction. */
import type { ResultStore } from './results.js';
import type { TrialRow } from '../tasks/bandit/game.js';

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
  trials: StoredTrial[];
}

export function saveGames(store: ResultStore, games: StoredGame[]): void {
  const db = store.db;
  const game = db.prepare(
    `INSERT INTO bandit_games (run, persona, game, mu1, mu2, abandoned, trials, backend, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT(run, persona, game) DO UPDATE SET mu1=excluded.mu1, mu2=excluded.mu2, abandoned=excluded.abandoned,
       trials=excluded.trials, backend=excluded.backend, updated_at=excluded.updated_at`,
  );
  const clear = db.prepare('DELETE FROM bandit_trials WHERE run = ? AND persona = ? AND game = ?');
  const trial = db.prepare(
    `INSERT INTO bandit_trials (run, persona, game, trial, v, ru, v_tu, action1, regret, reward, mu1, mu2, logprob1, logprob2,
       attempts, raw_text, prompt_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const now = new Date().toISOString();
  db.transaction(() => {
    for (const g of games) {
      game.run(g.run, g.persona, g.game, g.mu1, g.mu2, g.abandoned ? 1 : 0, g.trials.length, g.backend, now);
      // A replayed game replaces its trials as a whole: never a mix of two attempts' rows.
      clear.run(g.run, g.persona, g.game);
      // The seed writes no rows for an abandoned game.
      if (g.abandoned) continue;
      for (const t of g.trials) {
        trial.run(g.run, g.persona, g.game, t.trial, t.V, t.RU, t['V/TU'], t.action1 ? 1 : 0, t.regret, t.reward, t.mu1, t.mu2,
          t.logprob1, t.logprob2, t.attempts, t.rawText, t.promptHash);
      }
    }
  })();
}

/** `persona \0 game` of the games of [start, end) already stored. */
export function storedGameKeys(store: ResultStore, run: string, start: number, end: number): Set<string> {
  const rows = store.db.prepare('SELECT persona, game FROM bandit_games WHERE run = ? AND game >= ? AND game < ?').all(run, start, end) as { persona: string; game: number }[];
  return new Set(rows.map((r) => gameKey(r.persona, r.game)));
}

export function gameKey(persona: string, game: number): string {
  return `${persona}\u0000${game}`;
}

export function countGames(store: ResultStore, run: string, start = 0, end = Number.MAX_SAFE_INTEGER): { games: number; abandoned: number } {
  return store.db
    .prepare('SELECT COUNT(*) AS games, COALESCE(SUM(abandoned), 0) AS abandoned FROM bandit_games WHERE run = ? AND game >= ? AND game < ?')
    .get(run, start, end) as { games: number; abandoned: number };
}

export function loadGames(store: ResultStore, run: string): StoredGame[] {
  const games = store.db.prepare('SELECT * FROM bandit_games WHERE run = ? ORDER BY persona, game').all(run) as Record<string, unknown>[];
  const trials = store.db.prepare('SELECT * FROM bandit_trials WHERE run = ? ORDER BY persona, game, trial').all(run) as Record<string, unknown>[];
  const byGame = new Map<string, StoredTrial[]>();
  for (const t of trials) {
    const k = gameKey(t.persona as string, t.game as number);
    let list = byGame.get(k);
    if (!list) byGame.set(k, (list = []));
    list.push({
      trial: t.trial as number,
      V: t.v as number,
      RU: t.ru as number,
      'V/TU': t.v_tu as number,
      action1: t.action1 === 1,
      regret: t.regret as number,
      reward: t.reward as number,
      mu1: t.mu1 as number,
      mu2: t.mu2 as number,
      logprob1: t.logprob1 as number | null,
      logprob2: t.logprob2 as number | null,
      attempts: t.attempts as number,
      rawText: t.raw_text as string | null,
      promptHash: t.prompt_hash as string,
    });
  }
  return games.map((g) => ({
    run: g.run as string,
    persona: g.persona as string,
    game: g.game as number,
    mu1: g.mu1 as number,
    mu2: g.mu2 as number,
    abandoned: g.abandoned === 1,
    backend: g.backend as string,
    trials: byGame.get(gameKey(g.persona as string, g.game as number)) ?? [],
  }));
}
