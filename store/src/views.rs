//! Saved views: a person's named work-queue filters, kept as the query
//! string of the view (the filter reads it back, so nothing stale or
//! invalid can be stored as a filter of its own).

use dispute_core::domain::{casework::MAX_SAVED_VIEWS, ViewName};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError};

/// A person's named filter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedView {
    pub id: i64,
    pub name: String,
    /// The work queue's query string, as `QueueFilter::query_string` wrote it.
    pub query: String,
}

impl Store {
    /// Saves `query` as `name` for `user_id`, replacing a view of that
    /// name; `None` when they have `MAX_SAVED_VIEWS` others already.
    pub async fn save_view(
        &self,
        user_id: i64,
        name: &ViewName,
        query: &str,
    ) -> Result<Option<i64>, StoreError> {
        let mut tx = self.pool.begin().await?;
        // One save at a time per person, so two cannot both take the last
        // place.
        sqlx::query("select from users where id = $1 for update")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let id = sqlx::query_scalar(
            "insert into saved_views (user_id, name, query)
             select $1, $2, $3
             where (select count(*) from saved_views where user_id = $1 and name <> $2) < $4
             on conflict on constraint saved_views_name_key
             do update set query = excluded.query
             returning id",
        )
        .bind(user_id)
        .bind(name.as_str())
        .bind(query)
        .bind(MAX_SAVED_VIEWS)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The views of `user_id`, by name.
    pub async fn saved_views(&self, user_id: i64) -> Result<Vec<SavedView>, StoreError> {
        let rows: Vec<(i64, String, String)> = sqlx::query_as(
            "select id, name, query from saved_views where user_id = $1
             order by lower(name), id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, name, query)| SavedView { id, name, query })
            .collect())
    }

    /// Removes a view of `user_id`; false when they have no such view.
    pub async fn delete_view(&self, user_id: i64, id: i64) -> Result<bool, StoreError> {
        let deleted = sqlx::query("delete from saved_views where id = $1 and user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected() == 1)
    }
}
