//! The root type `Query`: reads.

use async_graphql::{Context, Object, ID};
use trainers_core::service::{BySpecialtyRequest, ListRequest};
use trainers_core::FilterKind;

use super::inputs::{
    self, ModelSortDirection, ModelStringKeyConditionInput, ModelTrainersFilterInput,
};
use super::schema::{gql_error, service};
use super::types::{PaginatedTrainers, Specialty, Trainers};

pub struct Query;

#[Object]
impl Query {
    async fn all_trainers(
        &self,
        ctx: &Context<'_>,
        limit: Option<i32>,
        next_token: Option<String>,
        specialty: Option<Specialty>,
        filter: Option<ModelTrainersFilterInput>,
    ) -> async_graphql::Result<PaginatedTrainers> {
        let filter = inputs::filter(FilterKind::List, filter.as_ref()).map_err(gql_error)?;
        let page = service(ctx)
            .list(ListRequest {
                limit,
                next_token,
                specialty: specialty.map(Into::into),
                filter,
            })
            .await
            .map_err(gql_error)?;
        Ok(PaginatedTrainers::from(page))
    }

    #[allow(clippy::too_many_arguments)]
    async fn trainers_by_specialty(
        &self,
        ctx: &Context<'_>,
        specialty: Specialty,
        last_name: Option<ModelStringKeyConditionInput>,
        sort_direction: Option<ModelSortDirection>,
        filter: Option<ModelTrainersFilterInput>,
        limit: Option<i32>,
        next_token: Option<String>,
    ) -> async_graphql::Result<PaginatedTrainers> {
        let req = BySpecialtyRequest {
            specialty: specialty.into(),
            last_name: inputs::key_condition(last_name.as_ref()).map_err(gql_error)?,
            direction: sort_direction.map(Into::into).unwrap_or_default(),
            filter: inputs::filter(FilterKind::List, filter.as_ref()).map_err(gql_error)?,
            limit,
            next_token,
        };
        let page = service(ctx).by_specialty(req).await.map_err(gql_error)?;
        Ok(PaginatedTrainers::from(page))
    }

    async fn count_trainers(
        &self,
        ctx: &Context<'_>,
        filter: Option<ModelTrainersFilterInput>,
    ) -> async_graphql::Result<i32> {
        let filter = inputs::filter(FilterKind::List, filter.as_ref()).map_err(gql_error)?;
        let n = service(ctx).count(filter).await.map_err(gql_error)?;
        Ok(i32::try_from(n).unwrap_or(i32::MAX))
    }

    async fn get_trainer(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<Trainers>> {
        let found = service(ctx).get(&id).await.map_err(gql_error)?;
        Ok(found.map(Trainers::full))
    }
}
