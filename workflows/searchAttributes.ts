/** Search attributes that make runs findable and show progress in the Temporal web UI's list view. */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const EXPERIMENT = defineSearchAttributeKey('RolyExperiment', SearchAttributeType.KEYWORD);
export const TASK = defineSearchAttributeKey('RolyTask', SearchAttributeType.KEYWORD);
export const MODEL = defineSearchAttributeKey('RolyModel', SearchAttributeType.KEYWORD);
export const DONE = defineSearchAttributeKey('RolyDone', SearchAttributeType.INT);
export const TOTAL = defineSearchAttributeKey('RolyTotal', SearchAttributeType.INT);

/** Name → type, for `temporal server start-dev --search-attribute` and the operator API. */
export const SEARCH_ATTRIBUTES: Record<string, 'Keyword' | 'Int'> = {
  RolyExperiment: 'Keyword',
  RolyTask: 'Keyword',
  RolyModel: 'Keyword',
  RolyDone: 'Int',
  RolyTotal: 'Int',
};
