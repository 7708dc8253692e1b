//! A typed GraphQL client generated from the committed `schema.graphql` by `graphql_client`:
//! if the schema and these queries drift apart, this crate stops compiling. The queries are
//! those a frontend starts with (a table page of images, a permalink, a light curve, flares).

use graphql_client::GraphQLQuery;

/// `BigInt`: STIX ids (64-bit).
pub type BigInt = i64;
/// `DateTime`: RFC 3339 text.
pub type DateTime = String;
/// `JSON`: algorithm parameters.
#[allow(clippy::upper_case_acronyms)]
pub type JSON = serde_json::Value;

/// A page of images for a table.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../../schema.graphql",
    query_path = "queries/images_page.graphql",
    response_derives = "Debug, Clone"
)]
pub struct ImagesPage;

/// Any object by its global id.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../../schema.graphql",
    query_path = "queries/node.graphql",
    response_derives = "Debug, Clone"
)]
pub struct NodeById;

/// A file's light curve and flares.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../../schema.graphql",
    query_path = "queries/light_curve.graphql",
    response_derives = "Debug, Clone"
)]
pub struct LightCurve;

/// Flares by peak counts, paged backward.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../../schema.graphql",
    query_path = "queries/flares.graphql",
    response_derives = "Debug, Clone"
)]
pub struct BigFlares;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_responses_are_typed() {
        let body = ImagesPage::build_query(images_page::Variables {
            first: Some(50),
            after: None,
            algorithm: Some(images_page::Algorithm::CLEAN),
            flare_id: Some(2211111136),
        });
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(json["operationName"], "ImagesPage");
        assert_eq!(json["variables"]["algorithm"], "CLEAN");
        let data: node_by_id::ResponseData = serde_json::from_value(serde_json::json!({
            "node": { "__typename": "Flare", "id": "RmxhcmU6MjIxMTExMTEzNg", "flareId": 2211111136_i64,
                      "peakTime": "2022-11-11T11:36:00Z", "source": "FLARE_LIST",
                      "location": null, "locationSource": null }
        }))
        .unwrap();
        match data.node.unwrap().on {
            node_by_id::NodeByIdNodeOn::Flare(f) => assert_eq!(f.flare_id, 2211111136),
            other => panic!("{other:?}"),
        }
    }
}
