//! Money as the provider wrote it: a decimal amount (never floating point)
//! with its ISO 4217 currency.

use std::{fmt, str::FromStr};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount {0:?} is not a decimal number")]
    Amount(String),
    #[error("currency {0:?} is not a three-letter ISO 4217 code")]
    Currency(String),
}

/// An amount with its currency, the provider's text kept beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    amount: Decimal,
    currency: String,
    text: String,
}

impl Money {
    /// Parses the provider's amount text (`"129.90"`, `200.00`, `75.5`) and
    /// currency code (`"USD"`).
    pub fn parse(amount: &str, currency: &str) -> Result<Self, MoneyError> {
        let text = amount.trim();
        let value = Decimal::from_str(text).map_err(|_| MoneyError::Amount(amount.to_owned()))?;
        let currency = currency.trim();
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(MoneyError::Currency(currency.to_owned()));
        }
        Ok(Self {
            amount: value,
            currency: currency.to_owned(),
            text: text.to_owned(),
        })
    }

    pub fn amount(&self) -> Decimal {
        self.amount
    }

    pub fn currency(&self) -> &str {
        &self.currency
    }

    /// The amount exactly as the provider wrote it.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Digits after the decimal point in the currency's minor unit (2 when
    /// the code is unknown to ISO 4217).
    pub fn minor_digits(&self) -> u32 {
        iso_currency::Currency::from_code(&self.currency)
            .and_then(|c| c.exponent())
            .map(u32::from)
            .unwrap_or(2)
    }

    /// The amount written with the currency's minor units: `75.5` AED →
    /// `"75.50"`. An amount finer than the minor unit keeps its digits.
    pub fn normalized(&self) -> String {
        let mut value = self.amount.normalize();
        if value.scale() < self.minor_digits() {
            value.rescale(self.minor_digits());
        }
        value.to_string()
    }

    /// `normalized` with its thousands grouped: `20000` PHP → `"20,000.00"`.
    pub fn grouped(&self) -> String {
        use num_format::{Locale, ToFormattedString};
        let normalized = self.normalized();
        let (sign, digits) = match normalized.strip_prefix('-') {
            Some(digits) => ("-", digits),
            None => ("", normalized.as_str()),
        };
        let (whole, fraction) = match digits.split_once('.') {
            Some((whole, fraction)) => (whole, Some(fraction)),
            None => (digits, None),
        };
        let whole = whole
            .parse::<u128>()
            .map_or_else(|_| whole.to_owned(), |w| w.to_formatted_string(&Locale::en));
        match fraction {
            Some(fraction) => format!("{sign}{whole}.{fraction}"),
            None => format!("{sign}{whole}"),
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.grouped(), self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_keeps_its_currency_and_text() {
        let money = Money::parse(" 75.5 ", "AED").unwrap();
        assert_eq!((money.currency(), money.text()), ("AED", "75.5"));
        assert_eq!(money.to_string(), "75.50 AED");
    }

    #[test]
    fn amounts_are_normalized_to_the_currencys_minor_units() {
        let cases = [
            ("129.90", "USD", "129.90"),
            ("200.00", "AED", "200.00"),
            ("75.5", "AED", "75.50"),
            ("1", "USD", "1.00"),
            ("100.000000", "USD", "100.00"),
            ("1500", "JPY", "1500"),
            ("12.5", "KWD", "12.500"),
            ("20000.00", "PHP", "20000.00"),
            ("0.125", "USD", "0.125"),
        ];
        for (amount, currency, expected) in cases {
            let money = Money::parse(amount, currency).unwrap();
            assert_eq!(money.normalized(), expected, "{amount} {currency}");
            assert_eq!(money.text(), amount);
        }
    }

    #[test]
    fn the_exact_decimal_is_kept() {
        let money = Money::parse("0.1", "USD").unwrap();
        assert_eq!(
            money.amount() * Decimal::from(3),
            Decimal::from_str("0.3").unwrap()
        );
    }

    #[test]
    fn an_unknown_but_well_formed_currency_uses_two_digits() {
        assert_eq!(Money::parse("5", "XYZ").unwrap().normalized(), "5.00");
    }

    #[test]
    fn bad_amounts_and_currencies_are_refused() {
        assert_eq!(
            Money::parse("12,50", "USD"),
            Err(MoneyError::Amount("12,50".into()))
        );
        assert_eq!(Money::parse("", "USD"), Err(MoneyError::Amount("".into())));
        assert_eq!(
            Money::parse("1", "usd"),
            Err(MoneyError::Currency("usd".into()))
        );
        assert_eq!(
            Money::parse("1", "US"),
            Err(MoneyError::Currency("US".into()))
        );
    }

    #[test]
    fn display_shows_amount_grouped_and_currency() {
        assert_eq!(
            Money::parse("75.5", "AED").unwrap().to_string(),
            "75.50 AED"
        );
        for (amount, currency, shown) in [
            ("20000.00", "PHP", "20,000.00 PHP"),
            ("1500", "JPY", "1,500 JPY"),
            ("1234567.5", "USD", "1,234,567.50 USD"),
            ("999.999", "USD", "999.999 USD"),
            ("-1000", "USD", "-1,000.00 USD"),
            ("0", "KWD", "0.000 KWD"),
        ] {
            assert_eq!(Money::parse(amount, currency).unwrap().to_string(), shown);
        }
    }
}
