//! PLACEHOLDER until the rating branch lands: the types reference data needs.
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallType {
    Voice,
    Sms,
    Data,
}
impl CallType {
    pub fn as_str(self) -> &'static str {
        match self {
            CallType::Voice => "voice",
            CallType::Sms => "sms",
            CallType::Data => "data",
        }
    }
}
impl FromStr for CallType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "voice" => Ok(CallType::Voice),
            "sms" => Ok(CallType::Sms),
            "data" => Ok(CallType::Data),
            _ => Err(format!("'{s}' is not one of voice, sms, data")),
        }
    }
}
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Band {
    All,
    Peak,
    Offpeak,
}
impl Band {
    pub fn as_str(self) -> &'static str {
        match self {
            Band::All => "all",
            Band::Peak => "peak",
            Band::Offpeak => "offpeak",
        }
    }
}
impl FromStr for Band {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "all" => Ok(Band::All),
            "peak" => Ok(Band::Peak),
            "offpeak" => Ok(Band::Offpeak),
            _ => Err(format!("'{s}' is not one of all, peak, offpeak")),
        }
    }
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Increment {
    pub first: u32,
    pub next: u32,
}
impl Default for Increment {
    fn default() -> Self {
        Increment { first: 1, next: 1 }
    }
}
impl std::fmt::Display for Increment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.first, self.next)
    }
}
impl FromStr for Increment {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("'{s}' is not an increment F/N such as 60/60 or 30/1");
        let (a, b) = s.split_once('/').ok_or_else(bad)?;
        let first: u32 = a.trim().parse().map_err(|_| bad())?;
        let next: u32 = b.trim().parse().map_err(|_| bad())?;
        if first == 0 || next == 0 {
            return Err(bad());
        }
        Ok(Increment { first, next })
    }
}
pub fn normalise_number(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_digit()).collect()
}
