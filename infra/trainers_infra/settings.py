"""The stack's settings: the CDK context values (`cdk.json`, or `-c name=value`), and the
files of the repository that it deploys."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import aws_logs as logs

INFRA = Path(__file__).resolve().parent.parent

# Of both log groups: the function's and AppSync's.
LOG_RETENTION = logs.RetentionDays.ONE_MONTH


@dataclass(frozen=True)
class Settings:
    """The stack's settings, read from the CDK context (cdk.json or `-c name=value`)."""

    api_key_expiry_days: int = 7
    destroy_table: bool = False
    # Accounts (contract section 11): a Cognito user pool as a second way in to the API, and
    # the Lambda's owner rules. Off, the stack is the tutorial's: the API key does everything.
    accounts: bool = True
    admin_group: str = "Admins"
    lambda_asset_dir: Path = INFRA.parent / "target" / "lambda" / "bootstrap"

    @staticmethod
    def from_context(node) -> Settings:
        days_raw = node.try_get_context("apiKeyExpiryDays")
        try:
            days = 7 if days_raw is None else int(days_raw)
        except (TypeError, ValueError):
            raise ValueError(
                f"apiKeyExpiryDays must be a whole number of days, not {days_raw!r}"
            ) from None
        # AppSync wants a key to live 1 to 365 days when it is made, which is at deploy time,
        # after the synth that fixed its expiry: at least 2 leaves a day for the deploy.
        if not 2 <= days <= 365:
            raise ValueError(f"apiKeyExpiryDays must be 2 to 365, not {days}")
        destroy_raw = node.try_get_context("destroyTable")
        destroy = str(destroy_raw).lower() in ("true", "1", "yes")
        asset_raw = node.try_get_context("lambdaAssetDir")
        asset = Settings.lambda_asset_dir if asset_raw is None else Path(asset_raw)
        if not asset.is_absolute():
            asset = (INFRA / asset).resolve()
        if not (asset / "bootstrap").is_file():
            raise ValueError(
                f"no Lambda asset: {asset}/bootstrap is missing; build it with "
                "scripts/build-lambda.sh (or set -c lambdaAssetDir=DIR)"
            )
        accounts_raw = node.try_get_context("accounts")
        accounts = "true" if accounts_raw is None else str(accounts_raw).lower()
        # Strictly true or false: a typo must not turn the owner rules off.
        if accounts not in ("true", "false"):
            raise ValueError(f"accounts must be true or false, not {accounts_raw!r}")
        group_raw = node.try_get_context("adminGroup")
        group = Settings.admin_group if group_raw is None else str(group_raw)
        # Cognito's group names: 1 to 128 characters, no white space.
        if not 1 <= len(group) <= 128 or any(c.isspace() for c in group):
            raise ValueError(
                f"adminGroup must be 1 to 128 characters without spaces, not {group_raw!r}"
            )
        return Settings(
            api_key_expiry_days=days,
            destroy_table=destroy,
            lambda_asset_dir=asset,
            accounts=accounts == "true",
            admin_group=group,
        )
