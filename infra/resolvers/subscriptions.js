// The resolver of onCreateTrainer, onUpdateTrainer and onDeleteTrainer (APPSYNC_JS), on a NONE
// data source: AppSync's enhanced subscription filtering, so that a subscription's `filter`
// (contract, section 10) holds in the cloud as it does on the local server.
//
// request: nothing to fetch. response: one filter from the subscription's arguments, handed to
// `extensions.setSubscriptionFilter(util.transform.toSubscriptionFilter(filter))`; AppSync then
// delivers an event only when its payload holds it. The filter is the `filter` argument (an
// Amplify ModelSubscriptionTrainersFilterInput) AND `{id: {eq}}` AND `{specialty: {eq}}` for the
// plain arguments given. With no argument given, no filter is set: every event is delivered.
//
// Two rewrites keep the contract's meaning, both of the same filter:
// - Two operators on one field (`age: {ge: 30, le: 40}`) mean AND to Amplify and the contract;
//   so that toSubscriptionFilter cannot read them otherwise, such a field becomes one entry per
//   operator in the object's `and` list.
// - An argument, field, operator or member of `and`/`or` given `null` is left out (the contract:
//   as if it were not there).
//
// AppSync's limits on the result (AWS AppSync reference: extensions, filterJsonObject; the same
// numbers in the lambda-appsync crate's subscription_filters): toSubscriptionFilter turns the
// filter into a list of filter groups, each an AND of single conditions, the groups OR-ed (every
// member of an `or` is one more group; an AND of ORs multiplies them out). AppSync takes at most
// 10 groups of at most 5 conditions each; `in` and `notIn` at most 5 values (`containsAny` 20);
// field paths at most 5 levels deep. An Amplify-shaped filter can exceed every one of these while
// the contract accepts it (up to 25 conditions, 25 values in `in`, 5 levels of `and`/`or`): six
// conditions ANDed (or five and an `id` argument), an `or` of eleven, `(a or b) and (c or d)
// and (e or f) and (g or h)` (16 groups), `in` with six values. AppSync then refuses the
// subscription with an error; nothing here splits or trims a filter. The local server has none
// of these limits.
//
// The APPSYNC_JS runtime has no `while`, C-style `for`, `continue`, `try`/`throw` or recursion, so
// the filter is walked level by level, at most MAX_LEVELS deep (GraphQL bounds nothing; the
// contract allows 5).
import { util, extensions } from '@aws-appsync/utils';

const MAX_LEVELS = 8;
const LEVELS = [1, 2, 3, 4, 5, 6, 7, 8];

export function request() {
  return { payload: null };
}

export function response(ctx) {
  const filter = subscriptionFilter(ctx.args);
  if (filter !== null) {
    extensions.setSubscriptionFilter(util.transform.toSubscriptionFilter(filter));
  }
  return null;
}

/** The one filter of a subscription's arguments (`filter`, `id`, `specialty`), null for none. */
export function subscriptionFilter(args) {
  const parts = [];
  const given = args ?? {};
  if (given.filter !== null && given.filter !== undefined) {
    const filter = normalized(given.filter);
    if (Object.keys(filter).length > 0) {
      parts.push(filter);
    }
  }
  if (given.id !== null && given.id !== undefined) {
    parts.push({ id: { eq: given.id } });
  }
  if (given.specialty !== null && given.specialty !== undefined) {
    parts.push({ specialty: { eq: given.specialty } });
  }
  if (parts.length === 0) {
    return null;
  }
  if (parts.length === 1) {
    return parts[0];
  }
  return { and: parts };
}

/** The filter as toSubscriptionFilter should read it: each field with one operator, the others
 * moved to the object's `and`; nulls left out. Walked level by level (no recursion). */
function normalized(filter) {
  const root = {};
  let level = [{ from: filter, to: root }];
  for (const depth of LEVELS) {
    const next = [];
    for (const node of level) {
      const split = [];
      let ands = [];
      for (const key of Object.keys(node.from)) {
        const value = node.from[key];
        if (value === null || value === undefined) {
          // left out
        } else if (key === 'and' || key === 'or') {
          const items = [];
          for (const item of value) {
            if (item !== null && item !== undefined) {
              const to = {};
              items.push(to);
              next.push({ from: item, to });
            }
          }
          if (key === 'and') {
            ands = items;
          } else if (items.length > 0) {
            node.to.or = items;
          }
        } else {
          const operators = Object.keys(value).filter(
            (op) => value[op] !== null && value[op] !== undefined,
          );
          if (operators.length === 1) {
            node.to[key] = oneCondition(operators[0], value[operators[0]]);
          } else {
            for (const op of operators) {
              const entry = {};
              entry[key] = oneCondition(op, value[op]);
              split.push(entry);
            }
          }
        }
      }
      const allAnds = ands.concat(split);
      if (allAnds.length > 0) {
        node.to.and = allAnds;
      }
    }
    level = next;
    if (level.length === 0) {
      return root;
    }
    if (depth === MAX_LEVELS) {
      util.error(
        `filter is nested more than ${MAX_LEVELS} levels deep (and, or)`,
        'ValidationError',
      );
    }
  }
  return root;
}

/** `{op: operand}`, the operand as given (a list too: `between` needs its two values). */
function oneCondition(op, operand) {
  const condition = {};
  condition[op] = operand;
  return condition;
}
