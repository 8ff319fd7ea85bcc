#!/usr/bin/env python3
"""The CDK app of the Trainers API: one stack, `TrainersApi` (see trainers_infra/stack.py).

Context values (`cdk.json`, or `-c name=value`):
  apiKeyExpiryDays  days until the API key expires, 2 to 365 (default 7)
  destroyTable      true: the table goes with the stack (development stacks); default false,
                    the table is kept when the stack is deleted
  lambdaAssetDir    the directory holding the built `bootstrap` (scripts/build-lambda.sh)
  accounts          true (default): a Cognito user pool whose users sign in beside the API key,
                    and the Lambda's owner rules (contract section 11); false: the tutorial's
                    API-key-only stack
  adminGroup        the user pool's group whose members may update and delete any trainer
                    (default Admins)
"""

import aws_cdk as cdk

from trainers_infra.stack import build_app

app = cdk.App()
build_app(app)
app.synth()
