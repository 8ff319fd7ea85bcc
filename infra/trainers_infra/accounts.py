"""Accounts (contract section 11): the Cognito user pool whose users sign in to the API, its app
client, and the admin group."""

from __future__ import annotations

from aws_cdk import Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from trainers_infra.graphql_api import acknowledge
from trainers_infra.group import Group

# Cognito's password policy: cdk-nag's AwsSolutions-COG1 asks for 8 characters at least, with
# upper case, numbers and symbols; 12 is the length that makes the policy strong.
PASSWORD_MIN_LENGTH = 12
# An access or ID token lives an hour (as `trainers token create`'s do by default); the refresh
# token, Cognito's default 30 days, keeps an app's user signed in between visits.
ACCESS_TOKEN_VALIDITY = Duration.hours(1)
ID_TOKEN_VALIDITY = Duration.hours(1)
REFRESH_TOKEN_VALIDITY = Duration.days(30)


class Accounts(Group):
    """A user pool of users the operator makes (`aws cognito-idp admin-create-user`): no self
    sign-up, as every user may create trainers, and a tutorial's stack open to anyone on the
    internet would be theirs to fill. Users sign in with their username (the `owner` of their
    trainers is `<sub>::<username>`), case-insensitively, with a strong password; their email,
    when given and verified, is how they recover a forgotten one. MFA (TOTP) is the users' to
    turn on. The pool is kept, and protected from deletion, unless `destroy` (as the table: the
    users own its trainers).

    One app client for public apps (browsers, Amplify JS, the CLI): no secret, which a public
    app could not keep; SRP sign-in (Amplify's default) and USER_PASSWORD_AUTH (scripts and
    tests); no OAuth (there is no hosted UI). And the group `admin_group`, whose members may
    update or delete any trainer."""

    def __init__(
        self, scope: Construct, construct_id: str, *, admin_group: str, destroy: bool
    ) -> None:
        super().__init__(scope, construct_id)
        self.user_pool = cognito.UserPool(
            self,
            "UserPool",
            user_pool_name="trainers-api-users",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(username=True),
            sign_in_case_sensitive=False,
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=False, mutable=True)
            ),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            password_policy=cognito.PasswordPolicy(
                min_length=PASSWORD_MIN_LENGTH,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            # TOTP only: SMS would add a role that may publish to SNS, and a bill per message.
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(sms=False, otp=True),
            feature_plan=cognito.FeaturePlan.ESSENTIALS,
            deletion_protection=not destroy,
            removal_policy=RemovalPolicy.DESTROY if destroy else RemovalPolicy.RETAIN,
        )
        self.client = self.user_pool.add_client(
            "AppClient",
            user_pool_client_name="trainers-api",
            generate_secret=False,
            auth_flows=cognito.AuthFlow(user_srp=True, user_password=True),
            disable_o_auth=True,
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
            access_token_validity=ACCESS_TOKEN_VALIDITY,
            id_token_validity=ID_TOKEN_VALIDITY,
            refresh_token_validity=REFRESH_TOKEN_VALIDITY,
        )
        self.admin_group = cognito.CfnUserPoolGroup(
            self,
            "AdminGroup",
            user_pool_id=self.user_pool.user_pool_id,
            group_name=admin_group,
            description="Trainers API admins: may update and delete any trainer",
        )
        # What a token's `iss` says, and what `trainers serve --auth-issuer` takes.
        stack = Stack.of(self)
        self.issuer = Fn.join(
            "",
            [
                "https://cognito-idp.",
                stack.region,
                ".",
                stack.url_suffix,
                "/",
                self.user_pool.user_pool_id,
            ],
        )

        acknowledge(
            self,
            "AwsSolutions::AwsSolutions-COG2",
            "MFA is optional (TOTP), not required: required MFA makes every first sign-in a "
            "TOTP setup, which the tutorial's curl and USER_PASSWORD_AUTH scripts cannot do. "
            "Users turn it on themselves; passwords are 12 characters of four kinds.",
        )
        acknowledge(
            self,
            "AwsSolutions::AwsSolutions-COG8",
            "The Essentials feature plan, not Plus: Plus bills every monthly active user from "
            "the first, while Essentials' free tier covers a tutorial's users. Users are made "
            "by the operator (no self sign-up), which leaves little for threat protection.",
        )
