//! Custom scalars. STIX flare ids (`2211111136`) and request UIDs (`2211116471`) exceed
//! GraphQL's 32-bit `Int`, so they travel as `BigInt`: a JSON integer (exact below 2⁵³)
//! that inputs may also give as a decimal string.

use async_graphql::{InputValueError, InputValueResult, Number, Scalar, ScalarType, Value};

/// A 64-bit integer (STIX ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BigInt(pub i64);

#[Scalar]
impl ScalarType for BigInt {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::Number(n) => n
                .as_i64()
                .map(BigInt)
                .ok_or_else(|| InputValueError::custom("BigInt must be an integer")),
            Value::String(s) => s
                .trim()
                .parse::<i64>()
                .map(BigInt)
                .map_err(|_| InputValueError::custom(format!("'{s}' is not an integer"))),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::Number(Number::from(self.0))
    }
}
