"""The Trainers API on AWS: AppSync, the Rust Lambda resolver and the DynamoDB table."""
