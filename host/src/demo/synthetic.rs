//! Synthetic customers for demos and benchmarks.
//!
//! Everything here is invented. Names come from short lists of common names, email addresses use
//! `example.*` domains, US numbers sit in the fictional 555-01xx block, UK and French numbers use
//! the ranges their regulators set aside for drama (020 7946 0xxx, 01 99 00 xx xx), and streets,
//! house numbers and postcodes are combined at random. Output depends only on the seed, and
//! `generate(seed, n)` is always a prefix of `generate(seed, n + k)`.

use std::collections::{BTreeMap, HashSet};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::Serialize;

/// One synthetic customer, realistic enough for demos and benchmarks; never a real person.
#[derive(Debug, Clone, Serialize)]
pub struct SyntheticCustomer {
    pub name: String,
    pub email: String,
    pub phone: String,
    pub address: String,
    pub birth_date: String,
    pub notes: String,
    pub region: String,
    pub tags: Vec<String>,
    pub consents: BTreeMap<String, bool>,
}

/// Birth dates are chosen so every customer is 18..=85 on every day of this year.
const REFERENCE_YEAR: i32 = 2026;
const MIN_AGE: i32 = 18;
const MAX_AGE: i32 = 85;

#[rustfmt::skip]
const TAGS: [&str; 12] = [
    "sports", "news", "drama", "kids", "movies", "documentary", "premium", "family", "student",
    "vip", "churn-risk", "4k",
];

#[rustfmt::skip]
const PURPOSES: [&str; 5] = [
    "marketing_email", "marketing_sms", "marketing_push", "analytics", "profiling",
];

// --- China -------------------------------------------------------------------------------------

/// (汉字, pinyin) — the pinyin feeds the email address.
#[rustfmt::skip]
const CN_SURNAMES: [(&str, &str); 42] = [
    ("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"),
    ("杨", "yang"), ("黄", "huang"), ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"),
    ("徐", "xu"), ("孙", "sun"), ("马", "ma"), ("朱", "zhu"), ("胡", "hu"),
    ("郭", "guo"), ("何", "he"), ("林", "lin"), ("高", "gao"), ("罗", "luo"),
    ("郑", "zheng"), ("梁", "liang"), ("谢", "xie"), ("宋", "song"), ("唐", "tang"),
    ("许", "xu"), ("韩", "han"), ("冯", "feng"), ("邓", "deng"), ("曹", "cao"),
    ("彭", "peng"), ("曾", "zeng"), ("肖", "xiao"), ("田", "tian"), ("董", "dong"),
    ("潘", "pan"), ("袁", "yuan"), ("蔡", "cai"), ("蒋", "jiang"), ("余", "yu"),
    ("欧阳", "ouyang"), ("司马", "sima"),
];

#[rustfmt::skip]
const CN_GIVEN: [(&str, &str); 40] = [
    ("芳", "fang"), ("建国", "jianguo"), ("伟", "wei"), ("敏", "min"), ("静", "jing"),
    ("丽", "li"), ("强", "qiang"), ("磊", "lei"), ("军", "jun"), ("洋", "yang"),
    ("勇", "yong"), ("艳", "yan"), ("杰", "jie"), ("娟", "juan"), ("涛", "tao"),
    ("明", "ming"), ("超", "chao"), ("秀英", "xiuying"), ("霞", "xia"), ("平", "ping"),
    ("刚", "gang"), ("桂英", "guiying"), ("晓明", "xiaoming"), ("子涵", "zihan"), ("浩然", "haoran"),
    ("欣怡", "xinyi"), ("宇轩", "yuxuan"), ("雨涵", "yuhan"), ("思远", "siyuan"), ("梓萱", "zixuan"),
    ("俊杰", "junjie"), ("婷婷", "tingting"), ("海燕", "haiyan"), ("志强", "zhiqiang"), ("佳怡", "jiayi"),
    ("文博", "wenbo"), ("一诺", "yinuo"), ("嘉豪", "jiahao"), ("诗涵", "shihan"), ("国华", "guohua"),
];

#[rustfmt::skip]
const CN_MOBILE_PREFIXES: [&str; 24] = [
    "130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "152", "155", "156",
    "157", "158", "159", "176", "177", "180", "182", "186", "187", "188", "199",
];

const CN_DISTRICTS: [(&str, &str); 10] = [
    ("上海市", "浦东新区"),
    ("北京市", "朝阳区"),
    ("广州市", "天河区"),
    ("深圳市", "南山区"),
    ("杭州市", "西湖区"),
    ("成都市", "武侯区"),
    ("南京市", "鼓楼区"),
    ("武汉市", "江汉区"),
    ("西安市", "雁塔区"),
    ("重庆市", "渝中区"),
];

#[rustfmt::skip]
const CN_ROADS: [&str; 12] = [
    "人民路", "中山路", "解放路", "建设路", "和平路", "长江路", "新华路", "文化路", "科技大道", "滨江大道", "世纪大道", "胜利街",
];

const CN_NOTES: [&str; 12] = [
    "投诉信号中断",
    "咨询体育频道套餐",
    "要求开通 4K 超清频道",
    "机顶盒故障，已预约上门维修",
    "对少儿频道感兴趣",
    "询问包年优惠",
    "来电投诉广告过多",
    "申请暂停服务一个月",
    "希望增加纪录片频道",
    "已办理宽带与电视融合套餐",
    "反馈回看功能卡顿",
    "要求停止短信营销",
];

// --- Europe ------------------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum EuCountry {
    Uk,
    De,
    Fr,
    Es,
    It,
    Nl,
}

const EU_COUNTRIES: [EuCountry; 6] = [
    EuCountry::Uk,
    EuCountry::De,
    EuCountry::Fr,
    EuCountry::Es,
    EuCountry::It,
    EuCountry::Nl,
];

impl EuCountry {
    #[rustfmt::skip]
    fn given_names(self) -> &'static [&'static str] {
        match self {
            Self::Uk => &[
                "Oliver", "Amelia", "Harry", "Isla",
                "George", "Sophie", "Jack", "Siobhán",
            ],
            Self::De => &["Lukas", "Zoë", "Jürgen", "Anna", "Maximilian", "Lena", "Jörg", "Sophie"],
            Self::Fr => &["Léa", "Hugo", "Chloé", "Louis", "Camille", "Théo", "Manon", "François"],
            Self::Es => &[
                "José", "Lucía", "Javier", "María",
                "Alejandro", "Sofía", "Iñaki", "Carmen",
            ],
            Self::It => &[
                "Giulia", "Luca", "Francesca", "Matteo",
                "Chiara", "Lorenzo", "Niccolò", "Sara",
            ],
            Self::Nl => &["Daan", "Sanne", "Bram", "Fleur", "Sem", "Anouk", "Joël", "Noor"],
        }
    }

    #[rustfmt::skip]
    fn family_names(self) -> &'static [&'static str] {
        match self {
            Self::Uk => &[
                "Smith", "Jones", "Taylor", "Brown",
                "Evans", "Wilson", "Thompson", "O'Brien",
            ],
            Self::De => &[
                "Müller", "Schmidt", "Schneider", "Fischer",
                "Weber", "Becker", "Schäfer", "Krüger",
            ],
            Self::Fr => &[
                "Martin", "Bernard", "Dubois", "Lefèvre",
                "Moreau", "Laurent", "Girard", "Rousseau",
            ],
            Self::Es => &[
                "García", "Fernández", "González", "Rodríguez",
                "López", "Martínez", "Muñoz", "Jiménez",
            ],
            Self::It => &[
                "Rossi", "Russo", "Ferrari", "Esposito",
                "Bianchi", "Romano", "Colombo", "De Luca",
            ],
            Self::Nl => &[
                "de Jong", "Jansen", "de Vries", "van Dijk",
                "Bakker", "Visser", "Smit", "Meijer",
            ],
        }
    }

    #[rustfmt::skip]
    fn streets(self) -> &'static [&'static str] {
        match self {
            Self::Uk => &[
                "Church Street", "Victoria Road", "Mill Lane",
                "Station Road", "Queens Avenue",
            ],
            Self::De => &[
                "Hauptstraße", "Lindenallee", "Gartenstraße",
                "Schillerstraße", "Am Mühlenweg",
            ],
            Self::Fr => &[
                "rue des Lilas", "avenue Victor-Hugo", "boulevard Voltaire",
                "rue du Moulin", "rue de la Gare",
            ],
            Self::Es => &[
                "Calle Mayor", "Calle del Prado", "Avenida de América",
                "Calle de Serrano", "Paseo de las Acacias",
            ],
            Self::It => &[
                "Via Garibaldi", "Via Nazionale", "Viale Marconi",
                "Via dei Fiori", "Via Mazzini",
            ],
            Self::Nl => &["Kerkstraat", "Molenweg", "Dorpsstraat", "Lindengracht", "Beukenlaan"],
        }
    }

    /// E.164 without spaces, in the capital's area code.
    fn phone(self, rng: &mut StdRng) -> String {
        match self {
            // Ofcom drama range: 020 7946 0000..0999.
            Self::Uk => format!("+442079460{}", digits(rng, 3)),
            Self::De => format!("+4930{}{}", rng.gen_range(1..10), digits(rng, 7)),
            // ARCEP fiction range: 01 99 00 xx xx.
            Self::Fr => format!("+3319900{}", digits(rng, 4)),
            Self::Es => format!("+3491{}{}", rng.gen_range(2..8), digits(rng, 6)),
            Self::It => format!("+3906{}{}", rng.gen_range(3..9), digits(rng, 7)),
            Self::Nl => format!("+3120{}{}", rng.gen_range(2..8), digits(rng, 6)),
        }
    }

    fn address(self, rng: &mut StdRng) -> String {
        let street = pick(rng, self.streets());
        let number = rng.gen_range(1..=180);
        match self {
            Self::Uk => {
                let area = pick(rng, &["E1", "N1", "SE1", "SW4", "NW3", "W2", "EC2A"]);
                let letters = upper_letters(rng, 2);
                let sector = rng.gen_range(1..10);
                format!("{number} {street}, London {area} {sector}{letters}")
            }
            Self::De => format!("{street} {number}, {} Berlin", rng.gen_range(10115..=14199)),
            Self::Fr => format!("{number} {street}, 750{:02} Paris", rng.gen_range(1..=20)),
            Self::Es => format!("{street}, {number}, 280{:02} Madrid", rng.gen_range(1..=55)),
            Self::It => format!("{street} {number}, 001{:02} Roma", rng.gen_range(0..=99)),
            Self::Nl => {
                let letters = upper_letters(rng, 2);
                format!(
                    "{street} {number}, 10{} {letters} Amsterdam",
                    rng.gen_range(11..=99)
                )
            }
        }
    }
}

const EU_NOTES: [&str; 8] = [
    "Prefers sports package; called about 4K channel",
    "Complained about buffering during the live match",
    "Asked about adding the kids bundle",
    "Satellite dish realignment booked",
    "Student discount verified",
    "Wants multi-room streaming on three devices",
    "Reported missing EPG data on the regional news channel",
    "Asked how to stop promotional emails",
];

// --- United States -----------------------------------------------------------------------------

#[rustfmt::skip]
const US_GIVEN: [&str; 40] = [
    "James", "Mary", "Michael", "Jennifer", "Robert", "Linda", "David", "Patricia", "William",
    "Elizabeth", "Christopher", "Jessica", "Daniel", "Ashley", "Matthew", "Emily", "Anthony",
    "Sarah", "Joshua", "Madison", "Tyler", "Hannah", "Brandon", "Olivia", "DeShawn", "Aaliyah",
    "Priya", "Mateo", "Camila", "Jamal", "Keisha", "Wei", "Zoë", "José", "Renée", "Chloé", "Ethan",
    "Maya", "Noah", "Grace",
];

#[rustfmt::skip]
const US_FAMILY: [&str; 40] = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "García", "Miller", "Davis", "Rodríguez",
    "Martínez", "Hernández", "López", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson",
    "Martin", "Lee", "Pérez", "Thompson", "White", "Harris", "Sánchez", "Clark", "Ramírez", "Lewis",
    "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Nguyen", "Kim", "Patel",
    "O'Connor", "Murphy",
];

/// (area code, city, state, ZIP prefix)
const US_CITIES: [(&str, &str, &str, &str); 10] = [
    ("212", "New York", "NY", "100"),
    ("310", "Los Angeles", "CA", "900"),
    ("312", "Chicago", "IL", "606"),
    ("415", "San Francisco", "CA", "941"),
    ("617", "Boston", "MA", "021"),
    ("206", "Seattle", "WA", "981"),
    ("305", "Miami", "FL", "331"),
    ("512", "Austin", "TX", "787"),
    ("404", "Atlanta", "GA", "303"),
    ("303", "Denver", "CO", "802"),
];

#[rustfmt::skip]
const US_STREETS: [&str; 10] = [
    "Maple", "Oak", "Cedar", "Elm", "Washington", "Lincoln", "Park", "Lakeview", "Hillcrest",
    "Sunset",
];

const US_SUFFIXES: [&str; 6] = ["St", "Ave", "Blvd", "Dr", "Ln", "Rd"];

const US_NOTES: [&str; 8] = [
    "Interested in annual premium upgrade",
    "Cancelled movie add-on, citing price",
    "Loyalty discount applied after retention call",
    "Called about set-top box firmware update",
    "Moving next month; wants service transferred",
    "Asked about NFL Sunday coverage in 4K",
    "Requested paperless billing",
    "Complained about outage during the evening news",
];

// --- Generation --------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum Region {
    Cn,
    Eu,
    Us,
}

/// Deterministic for a given seed.
pub fn generate(seed: u64, n: usize) -> Vec<SyntheticCustomer> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut used_emails = HashSet::with_capacity(n);
    (0..n)
        .map(|_| one_customer(&mut rng, &mut used_emails))
        .collect()
}

/// One customer, field after field in a fixed order (the order the seeded generator draws in, so
/// a seed always yields the same data set): long, and kept whole for that reason.
fn one_customer(rng: &mut StdRng, used_emails: &mut HashSet<String>) -> SyntheticCustomer {
    let roll = rng.gen_range(0..100);
    let region = match roll {
        0..=39 => Region::Cn,
        40..=74 => Region::Eu,
        _ => Region::Us,
    };

    let (year, month, day) = birth_date(rng);

    let (name, given_ascii, family_ascii, phone, address, notes) = match region {
        Region::Cn => {
            let (family, family_py) = *pick(rng, &CN_SURNAMES);
            let (given, given_py) = *pick(rng, &CN_GIVEN);
            let (city, district) = *pick(rng, &CN_DISTRICTS);
            let road = pick(rng, &CN_ROADS);
            let mut address = format!("{city}{district}{road} {} 号", rng.gen_range(1..=999));
            if rng.gen_bool(0.6) {
                let building = rng.gen_range(1..=30);
                let room = rng.gen_range(1..=32) * 100 + rng.gen_range(1..=6);
                address.push_str(&format!(" {building} 栋 {room} 室"));
            }
            let phone = format!("+86{}{}", pick(rng, &CN_MOBILE_PREFIXES), digits(rng, 8));
            (
                format!("{family}{given}"),
                given_py.to_string(),
                family_py.to_string(),
                phone,
                address,
                pick(rng, &CN_NOTES).to_string(),
            )
        }
        Region::Eu => {
            let country = *pick(rng, &EU_COUNTRIES);
            let given = pick(rng, country.given_names());
            let family = pick(rng, country.family_names());
            (
                format!("{given} {family}"),
                ascii_fold(given),
                ascii_fold(family),
                country.phone(rng),
                country.address(rng),
                pick(rng, &EU_NOTES).to_string(),
            )
        }
        Region::Us => {
            let given = pick(rng, &US_GIVEN);
            let family = pick(rng, &US_FAMILY);
            let (area, city, state, zip3) = *pick(rng, &US_CITIES);
            let street = pick(rng, &US_STREETS);
            let suffix = pick(rng, &US_SUFFIXES);
            let number = rng.gen_range(10..=9899);
            let zip = format!("{zip3}{:02}", rng.gen_range(1..=99));
            let apt = if rng.gen_bool(0.3) {
                format!(" Apt {}{}", rng.gen_range(1..=20), upper_letters(rng, 1))
            } else {
                String::new()
            };
            let phone = format!("+1{area}55501{:02}", rng.gen_range(0..=99));
            (
                format!("{given} {family}"),
                ascii_fold(given),
                ascii_fold(family),
                phone,
                format!("{number} {street} {suffix}{apt}, {city}, {state} {zip}"),
                pick(rng, &US_NOTES).to_string(),
            )
        }
    };

    let notes = if rng.gen_bool(0.15) {
        String::new()
    } else {
        notes
    };

    let email = unique_email(rng, used_emails, region, &given_ascii, &family_ascii, year);

    let tag_count = match rng.gen_range(0..100) {
        0..=14 => 0,
        15..=44 => 1,
        45..=74 => 2,
        75..=89 => 3,
        _ => 4,
    };
    let mut tags: Vec<String> = TAGS
        .choose_multiple(rng, tag_count)
        .map(|t| (*t).to_string())
        .collect();
    tags.sort();

    // Grant rates per purpose, in PURPOSES order. CN marketing needs separate consent under PIPL,
    // so it is granted less often.
    let rates: [f64; 5] = match region {
        Region::Cn => [0.45, 0.20, 0.30, 0.55, 0.18],
        Region::Eu => [0.68, 0.35, 0.40, 0.62, 0.30],
        Region::Us => [0.70, 0.42, 0.48, 0.75, 0.40],
    };
    let consents = PURPOSES
        .iter()
        .zip(rates)
        .map(|(purpose, rate)| ((*purpose).to_string(), rng.gen_bool(rate)))
        .collect();

    SyntheticCustomer {
        name,
        email,
        phone,
        address,
        birth_date: format!("{year:04}-{month:02}-{day:02}"),
        notes,
        region: match region {
            Region::Cn => "CN",
            Region::Eu => "EU",
            Region::Us => "US",
        }
        .to_string(),
        tags,
        consents,
    }
}

/// Born 1941-01-01..=2007-12-31, so aged 18..=85 throughout `REFERENCE_YEAR`.
fn birth_date(rng: &mut StdRng) -> (i32, u32, u32) {
    let year = rng.gen_range(REFERENCE_YEAR - MAX_AGE..=REFERENCE_YEAR - MIN_AGE - 1);
    let month = rng.gen_range(1..=12);
    let day = rng.gen_range(1..=days_in_month(year, month));
    (year, month, day)
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn unique_email(
    rng: &mut StdRng,
    used: &mut HashSet<String>,
    region: Region,
    given: &str,
    family: &str,
    birth_year: i32,
) -> String {
    let g = if given.is_empty() { "user" } else { given };
    let f = if family.is_empty() {
        "customer"
    } else {
        family
    };
    let gi = &g[..1];
    let fi = &f[..1];
    let yy = birth_year % 100;
    // Pinyin addresses usually put the family name first.
    let local = match (region == Region::Cn, rng.gen_range(0..5)) {
        (true, 0) => format!("{f}.{g}"),
        (true, 1) => format!("{f}{g}"),
        (true, 2) => format!("{f}{g}{yy:02}"),
        (true, 3) => format!("{g}.{f}"),
        (true, _) => format!("{fi}{g}"),
        (false, 0) => format!("{g}.{f}"),
        (false, 1) => format!("{g}{f}"),
        (false, 2) => format!("{gi}.{f}"),
        (false, 3) => format!("{g}_{f}{yy:02}"),
        (false, _) => format!("{f}.{g}"),
    };
    let domain = match region {
        Region::Cn => pick(
            rng,
            &[
                "example.cn",
                "example.cn",
                "example.com",
                "mail.example.net",
            ],
        ),
        _ => pick(
            rng,
            &[
                "example.com",
                "example.org",
                "example.net",
                "mail.example.net",
            ],
        ),
    };
    let mut email = format!("{local}@{domain}");
    let mut suffix = 2u32;
    while used.contains(&email) {
        email = format!("{local}{suffix}@{domain}");
        suffix += 1;
    }
    used.insert(email.clone());
    email
}

/// Lowercase ASCII letters and digits only: accents folded, spaces and punctuation dropped.
fn ascii_fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        let folded = match c {
            'a'..='z' | '0'..='9' => {
                out.push(c);
                continue;
            }
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => "a",
            'æ' => "ae",
            'ç' | 'ć' => "c",
            'è' | 'é' | 'ê' | 'ë' => "e",
            'ì' | 'í' | 'î' | 'ï' => "i",
            'ł' => "l",
            'ñ' | 'ń' => "n",
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => "o",
            'œ' => "oe",
            'ß' => "ss",
            'ś' => "s",
            'ù' | 'ú' | 'û' | 'ü' => "u",
            'ý' | 'ÿ' => "y",
            'ź' | 'ż' => "z",
            _ => "",
        };
        out.push_str(folded);
    }
    out
}

/// Uniform pick from a non-empty constant list.
fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.gen_range(0..items.len())]
}

fn digits(rng: &mut StdRng, count: usize) -> String {
    (0..count)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

fn upper_letters(rng: &mut StdRng, count: usize) -> String {
    (0..count)
        .map(|_| char::from(b'A' + rng.gen_range(0..26u8)))
        .collect()
}

/// Staff display names for demo users, e.g. for roles (admin, compliance, sales, support,
/// marketing). Unknown roles get "Demo User".
pub fn staff_name(role: &str) -> &'static str {
    match role.trim().to_ascii_lowercase().as_str() {
        "admin" | "administrator" => "Alex Morgan",
        "compliance" | "dpo" | "privacy" => "Chen Jing",
        "sales" => "Sofia Rossi",
        "support" => "Tom Becker",
        "marketing" => "Léa Dubois",
        "auditor" | "audit" => "Priya Patel",
        _ => "Demo User",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_leap(y: i32) -> bool {
        (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
    }

    /// Age in whole years on (year, month, day).
    fn age_on(birth: (i32, u32, u32), on: (i32, u32, u32)) -> i32 {
        let had_birthday = (on.1, on.2) >= (birth.1, birth.2);
        on.0 - birth.0 - i32::from(!had_birthday)
    }

    #[test]
    fn deterministic_for_seed() {
        let a = format!("{:?}", generate(42, 300));
        let b = format!("{:?}", generate(42, 300));
        assert_eq!(a, b);
        assert_ne!(a, format!("{:?}", generate(43, 300)));
        // A shorter run is a prefix of a longer one.
        let short = format!("{:?}", generate(42, 50));
        assert_eq!(short.trim_end_matches(']'), &a[..short.len() - 1]);
    }

    #[test]
    fn emails_unique_lowercase_ascii_example_domains() {
        let customers = generate(7, 2000);
        let mut seen = HashSet::new();
        for c in &customers {
            assert!(seen.insert(c.email.clone()), "duplicate email {}", c.email);
            let (local, domain) = c.email.split_once('@').expect("email has @");
            assert!(!local.is_empty());
            assert!(
                c.email
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "@._".contains(ch)),
                "{}",
                c.email
            );
            assert!(
                domain == "example.com"
                    || domain == "example.org"
                    || domain == "example.net"
                    || domain == "example.cn"
                    || domain.ends_with(".example.net"),
                "{domain}"
            );
        }
    }

    #[test]
    fn regions_valid_and_all_present() {
        let customers = generate(1, 2000);
        let count = |r: &str| customers.iter().filter(|c| c.region == r).count();
        let (cn, eu, us) = (count("CN"), count("EU"), count("US"));
        assert_eq!(cn + eu + us, customers.len());
        assert!(cn > 0 && eu > 0 && us > 0);
        // Roughly 40/35/25.
        assert!((700..=900).contains(&cn), "cn={cn}");
        assert!((600..=800).contains(&eu), "eu={eu}");
        assert!((400..=600).contains(&us), "us={us}");
    }

    #[test]
    fn phones_match_region_format() {
        for c in generate(3, 2000) {
            let p = &c.phone;
            assert!(p.starts_with('+'), "{p}");
            assert!(p[1..].chars().all(|ch| ch.is_ascii_digit()), "{p}");
            match c.region.as_str() {
                "CN" => {
                    assert!(p.starts_with("+861"), "{p}");
                    assert_eq!(p.len(), 14, "{p}");
                }
                "US" => {
                    assert!(p.starts_with("+1"), "{p}");
                    assert_eq!(p.len(), 12, "{p}");
                    assert!(matches!(p.as_bytes()[2], b'2'..=b'9'), "{p}");
                    assert_eq!(&p[5..10], "55501", "{p}");
                }
                "EU" => {
                    assert!(
                        ["+4420", "+4930", "+331", "+3491", "+3906", "+3120"]
                            .iter()
                            .any(|prefix| p.starts_with(prefix)),
                        "{p}"
                    );
                    assert!((12..=13).contains(&p.len()), "{p}");
                }
                other => panic!("unexpected region {other}"),
            }
        }
    }

    #[test]
    fn birth_dates_valid_and_ages_in_range() {
        for c in generate(11, 2000) {
            let parts: Vec<&str> = c.birth_date.split('-').collect();
            assert_eq!(parts.len(), 3, "{}", c.birth_date);
            assert_eq!((parts[0].len(), parts[1].len(), parts[2].len()), (4, 2, 2));
            let y: i32 = parts[0].parse().unwrap();
            let m: u32 = parts[1].parse().unwrap();
            let d: u32 = parts[2].parse().unwrap();
            assert!((1..=12).contains(&m), "{}", c.birth_date);
            let max_day = match m {
                2 if is_leap(y) => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            assert!((1..=max_day).contains(&d), "{}", c.birth_date);
            for on in [(2026, 1, 1), (2026, 12, 31)] {
                let age = age_on((y, m, d), on);
                assert!((18..=85).contains(&age), "{} age {age}", c.birth_date);
            }
        }
    }

    #[test]
    fn tags_sorted_unique_known() {
        let customers = generate(5, 2000);
        for c in &customers {
            assert!(c.tags.len() <= 4);
            assert!(c.tags.windows(2).all(|w| w[0] < w[1]), "{:?}", c.tags);
            assert!(
                c.tags.iter().all(|t| TAGS.contains(&t.as_str())),
                "{:?}",
                c.tags
            );
        }
        assert!(customers.iter().any(|c| c.tags.is_empty()));
        assert!(customers.iter().any(|c| c.tags.len() == 4));
    }

    #[test]
    fn consents_complete_and_plausible() {
        let customers = generate(9, 2000);
        let rate = |region: Option<&str>, purpose: &str| {
            let subset: Vec<_> = customers
                .iter()
                .filter(|c| region.is_none_or(|r| c.region == r))
                .collect();
            let granted = subset.iter().filter(|c| c.consents[purpose]).count();
            granted as f64 / subset.len() as f64
        };
        for c in &customers {
            assert_eq!(c.consents.len(), PURPOSES.len());
            assert!(PURPOSES.iter().all(|p| c.consents.contains_key(*p)));
        }
        let email = rate(None, "marketing_email");
        assert!((0.53..=0.67).contains(&email), "marketing_email {email}");
        assert!(rate(None, "marketing_sms") < email);
        assert!(rate(Some("CN"), "marketing_email") < rate(Some("EU"), "marketing_email"));
        assert!(rate(Some("CN"), "marketing_email") < rate(Some("US"), "marketing_email"));
    }

    #[test]
    fn names_and_notes_look_right() {
        let customers = generate(13, 500);
        for c in &customers {
            assert!(!c.name.trim().is_empty());
            assert!(!c.address.is_empty());
            if c.region == "CN" {
                assert!(
                    c.name
                        .chars()
                        .all(|ch| ('\u{4e00}'..='\u{9fff}').contains(&ch)),
                    "{}",
                    c.name
                );
                assert!(c.address.ends_with('号') || c.address.ends_with('室'));
            } else {
                assert!(c.name.contains(' '), "{}", c.name);
            }
        }
        assert!(customers.iter().any(|c| c.notes.is_empty()));
        assert!(customers.iter().any(|c| !c.notes.is_empty()));
    }

    #[test]
    fn staff_names_for_roles() {
        for role in ["admin", "compliance", "sales", "support", "marketing"] {
            assert_ne!(staff_name(role), "Demo User", "{role}");
        }
        assert_eq!(staff_name(" Admin "), staff_name("admin"));
        assert_eq!(staff_name("nobody"), "Demo User");
    }
}
