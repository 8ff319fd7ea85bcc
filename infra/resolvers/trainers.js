// The resolver of every field of the Trainers API (APPSYNC_JS), on the Lambda data source.
//
// request: invokes the function with the direct-resolver event of this field (arguments as
// given, identity, source, info, stash). The request headers stay out: they carry the API key.
//
// response: AppSync replaces the error type of a Lambda's own error with `Lambda:Unhandled`, so
// the function answers {data, errorType, errorMessage} and this handler raises the contract's
// errorType itself. A failed invocation is an InternalFailure whose message tells nothing of
// the internals (AppSync's log has the cause).
import { util } from '@aws-appsync/utils';

export function request(ctx) {
  return {
    operation: 'Invoke',
    payload: {
      arguments: ctx.arguments,
      identity: ctx.identity,
      source: ctx.source,
      info: {
        fieldName: ctx.info.fieldName,
        parentTypeName: ctx.info.parentTypeName,
        variables: ctx.info.variables,
        selectionSetList: ctx.info.selectionSetList,
        selectionSetGraphQL: ctx.info.selectionSetGraphQL,
      },
      stash: ctx.stash,
    },
  };
}

export function response(ctx) {
  if (ctx.error) {
    util.error('An internal error occurred', 'InternalFailure');
  }
  const result = ctx.result;
  if (result.errorType) {
    util.error(result.errorMessage, result.errorType);
  }
  return result.data;
}
