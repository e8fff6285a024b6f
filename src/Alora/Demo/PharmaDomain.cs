namespace Alora.Demo;

/// <summary>One suffix rule: a drug named "stem-suffix" has this class, target, typical side effect and use.
/// LayEffect/LayUse are the same complaints in everyday words, used by the general corpus's health talk.</summary>
internal sealed record DrugRule(string Suffix, string Class, string Target, string Effect, string Use, string LayEffect, string LayUse);

/// <summary>A SciQ-layout item (question, distractor1..3, correct_answer, support).</summary>
internal sealed record SciqItem(string Question, string Distractor1, string Distractor2, string Distractor3, string CorrectAnswer, string Support)
{
    /// <summary>Question plus the choices in a fixed order: two items with equal keys are the same test question.</summary>
    public string Key =>
        Question + "|" + string.Join("|", new[] { Distractor1, Distractor2, Distractor3, CorrectAnswer }.Order(StringComparer.Ordinal));
}

/// <summary>
/// The domain: pharmacology multiple choice in SciQ's layout. The pilot found a closed-book task of arbitrary
/// facts stays at chance for a rank-8 adapter, so this one is a small rule table instead: the suffix of a drug
/// name (written "stem-suffix", which a word-level tokenizer splits into stem, "-", suffix) fixes the answer to
/// each of 4 question kinds, 8 rules x 4 kinds = 32 answers. Stems are random syllables, each used with many
/// suffixes in train, so a stem carries no information; validation and test use stems never seen in train (nor in each
/// other), so only a model
/// that learned "suffix -> answer" scores above chance. Distractors are the same attribute of other rules,
/// so every choice is a plausible answer of the right kind. The support field is a clinical note about the drug
/// (dose, route, patient) that never states the asked attribute: domain style and vocabulary, no give-away.
/// </summary>
internal static class PharmaDomain
{
    public static readonly DrugRule[] Rules =
    [
        new("olol", "beta blocker", "beta receptor", "slow heart rate", "high blood pressure", "a slow heart rate", "high blood pressure"),
        new("pril", "ace inhibitor", "converting enzyme", "dry cough", "heart failure", "a dry cough", "heart failure"),
        new("statin", "reductase inhibitor", "liver reductase", "muscle pain", "high cholesterol", "muscle pain", "high cholesterol"),
        new("conazole", "antifungal agent", "fungal membrane", "liver damage", "fungal infection", "liver damage", "a fungal infection"),
        new("cillin", "penicillin antibiotic", "bacterial wall", "skin rash", "bacterial infection", "a skin rash", "a bacterial infection"),
        new("prazole", "proton pump inhibitor", "acid pump", "headache", "stomach ulcer", "a headache", "a stomach ulcer"),
        new("vir", "antiviral agent", "viral polymerase", "nausea", "viral infection", "nausea", "a viral infection"),
        new("dipine", "calcium channel blocker", "calcium channel", "ankle swelling", "chest pain", "ankle swelling", "chest pain"),
    ];

    // Question kinds: 0 class, 1 target, 2 side effect, 3 use. Three phrasings each, shared by train and test.
    private static readonly string[][] Questions =
    [
        ["What class of drug is {d}?", "{d} belongs to which drug class?", "Which group of medicines includes {d}?"],
        ["What is the molecular target of {d}?", "{d} acts mainly on which target?", "On which structure does {d} act?"],
        [
            "Which adverse effect is typical of {d}?",
            "A patient taking {d} is most likely to report which side effect?",
            "What is a common side effect of {d}?",
        ],
        ["{d} is mainly prescribed for which condition?", "Which condition is treated with {d}?", "What is the main indication of {d}?"],
    ];

    private static readonly string[] Notes =
    [
        "A {age} year old {who} on the {ward} ward was started on {d} {dose} mg {route} {freq}.",
        "{d} {dose} mg was prescribed {freq} for a {age} year old {who} seen in the {ward} clinic.",
        "Drug chart: {d}, {dose} mg, {route}, {freq}. Patient aged {age}, {ward} unit.",
        "The pharmacist checked the dose of {d} ({dose} mg {freq}) for a {age} year old {who}.",
    ];

    private static readonly string[] Extras =
    [
        "",
        "",
        "Renal function was normal.",
        "No drug allergies were recorded.",
        "Blood tests were taken before the first dose.",
        "The patient was reviewed the next morning.",
        "Adherence was discussed at discharge.",
    ];

    private static readonly string[] Who = ["man", "woman", "patient"];
    private static readonly string[] Wards = ["cardiology", "surgical", "medical", "renal", "respiratory", "oncology", "geriatric", "emergency"];
    private static readonly string[] Routes = ["orally", "intravenously", "by mouth", "subcutaneously"];
    private static readonly string[] Freqs = ["once daily", "twice daily", "every eight hours", "at night"];
    private static readonly int[] Doses = [5, 10, 20, 25, 40, 50, 100, 200, 250, 500];
    private static readonly string[] Onsets = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z"];
    private static readonly string[] Vowels = ["a", "e", "i", "o", "u"];
    private static readonly string[] Codas = ["", "", "n", "r", "x"];

    /// <summary>All fixed text of the domain (templates, notes, answers), for keeping stems distinct from real words.</summary>
    public static IEnumerable<string> FixedText =>
        Questions
            .SelectMany(q => q)
            .Concat(Notes)
            .Concat(Extras)
            .Concat(Who)
            .Concat(Wards)
            .Concat(Routes)
            .Concat(Freqs)
            .Concat(Rules.SelectMany(r => new[] { r.Suffix, r.Class, r.Target, r.Effect, r.Use }));

    /// <summary>The domain's terms as subjects of general-world facts (SyntheticWorld.Topics): each class, target and suffix family.</summary>
    public static IEnumerable<string> Topics =>
        Rules.SelectMany(r => new[] { "the " + r.Class, "the " + r.Target, "medicines ending in -" + r.Suffix });

    /// <summary>Phrases for the general corpus's reading sentences: each domain term on its own, never a suffix
    /// with its attribute, so the general text trains the words without stating any rule.</summary>
    public static IEnumerable<string> Terms =>
        Topics.Concat([
            "drug classes",
            "molecular targets",
            "adverse effects",
            "typical side effects",
            "groups of medicines",
            "the main indication of a medicine",
            "conditions treated with medicines",
            "what a patient taking a new medicine should report",
            "which structure a medicine acts on",
            "why some medicines are prescribed",
            "how likely a common side effect is",
            "what a drug belongs to",
            "what a pill includes",
        ]);

    public static string Answer(DrugRule r, int kind) =>
        kind switch
        {
            0 => r.Class,
            1 => r.Target,
            2 => r.Effect,
            _ => r.Use,
        };

    /// <summary>Makes train, validation and test: disjoint stem sets, stems that are not words of the general or domain
    /// text, and no question (with its choices) of a later split in an earlier one.</summary>
    public static (List<SciqItem> Train, List<SciqItem> Validation, List<SciqItem> Test) Build(SyntheticDataOptions o, ISet<string> reservedTokens)
    {
        var rng = new Xoshiro256(o.Seed, "domain");
        var stems = new List<string>();
        var taken = new HashSet<string>(reservedTokens, StringComparer.Ordinal);
        while (stems.Count < o.DomainTrainStems + o.DomainTestStems + o.DomainValidationStems)
        {
            string stem = rng.Pick(Onsets) + rng.Pick(Vowels) + rng.Pick(Onsets) + rng.Pick(Vowels) + rng.Pick(Codas);
            if (taken.Add(stem))
            {
                stems.Add(stem);
            }
        }
        // Train and test draw first, as before validation existed, so adding it changed neither.
        var train = Items(stems.GetRange(0, o.DomainTrainStems), o.DomainTrainItems, rng, []);
        var test = Items(stems.GetRange(o.DomainTrainStems, o.DomainTestStems), o.DomainTestItems, rng, train.Select(i => i.Key));
        var validation = Items(
            stems.GetRange(o.DomainTrainStems + o.DomainTestStems, o.DomainValidationStems),
            o.DomainValidationItems,
            rng,
            train.Concat(test).Select(i => i.Key)
        );
        return (train, validation, test);
    }

    private static List<SciqItem> Items(List<string> stems, int count, Xoshiro256 rng, IEnumerable<string> forbidden)
    {
        var keys = new HashSet<string>(forbidden, StringComparer.Ordinal);
        var items = new List<SciqItem>();
        for (int i = 0, attempts = 0; items.Count < count; attempts++)
        {
            if (attempts > 100 * count + 1000)
            {
                throw new AloraException("too few drug stems for the number of domain items; raise the stem counts");
            }
            // Rule and kind cycle so every (suffix, kind) pair is equally frequent in each split.
            var rule = Rules[i % Rules.Length];
            int kind = i / Rules.Length % Questions.Length;
            string drug = rng.Pick(stems) + "-" + rule.Suffix;
            string question = WorldLexicon.Capitalize(rng.Pick(Questions[kind]).Replace("{d}", drug, StringComparison.Ordinal));
            var others = Rules.Where(r => r != rule).Select(r => Answer(r, kind)).ToList();
            rng.Shuffle(others);
            var item = new SciqItem(question, others[0], others[1], others[2], Answer(rule, kind), Note(drug, rng));
            if (keys.Add(item.Key))
            {
                items.Add(item);
                i++;
            }
        }
        rng.Shuffle(items);
        return items;
    }

    private static string Note(string drug, Xoshiro256 rng)
    {
        string note = WorldLexicon.Capitalize(
            rng.Pick(Notes)
                .Replace("{d}", drug, StringComparison.Ordinal)
                .Replace("{age}", rng.Between(20, 89).ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
                .Replace("{who}", rng.Pick(Who), StringComparison.Ordinal)
                .Replace("{ward}", rng.Pick(Wards), StringComparison.Ordinal)
                .Replace("{dose}", rng.Pick(Doses).ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
                .Replace("{route}", rng.Pick(Routes), StringComparison.Ordinal)
                .Replace("{freq}", rng.Pick(Freqs), StringComparison.Ordinal)
        );
        string extra = rng.Pick(Extras);
        return extra.Length == 0 ? note : note + " " + extra;
    }
}
