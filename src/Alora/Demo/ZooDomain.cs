namespace Alora.Demo;

/// <summary>One zoo rule: an animal from this habitat is kept in this place, eats this food, has a blanket of this
/// colour and a bowl of this material.</summary>
internal sealed record ZooRule(string Habitat, string Place, string Food, string Colour, string Material);

/// <summary>
/// The second domain, for sequential tuning (nu, then pharma, then this): animal care at a zoo in SciQ's layout, a rule
/// table like the pharma domain's but keyed on the habitat an animal came from (8 rules x 4 question kinds = 32
/// answers). An animal is named by a code of two numbers ("animal 41 63"); train, validation and test use disjoint
/// codes, so a code carries no information and only "habitat -> answer" scores above chance. Every word of the domain
/// is a word of the general text: the domain adds nothing to the vocabulary, so the tokenizer, the pretraining text
/// and with them the cached base model are those of the world without it. The rules contradict nothing in the general
/// text and state nothing of it; the general text has the habitats, places, foods, colours and materials in other roles.
/// </summary>
internal static class ZooDomain
{
    public static readonly ZooRule[] Rules =
    [
        new("forest", "attic", "seeds", "red", "wood"),
        new("desert", "garage", "insects", "golden", "stone"),
        new("marsh", "cellar", "fish", "grey", "copper"),
        new("mountains", "balcony", "grass", "white", "steel"),
        new("grassland", "porch", "fruit", "orange", "cotton"),
        new("sea", "bathroom", "leaves", "silver", "glass"),
        new("lakes", "hallway", "roots", "striped", "brass"),
        new("jungle", "kitchen", "apples", "spotted", "bamboo"),
    ];

    // Question kinds: 0 place, 1 food, 2 blanket colour, 3 bowl material. Three phrasings each, shared by the splits.
    private static readonly string[][] Questions =
    [
        [
            "Where is animal {a} from the {h} kept?",
            "Animal {a} from the {h} is kept in which place?",
            "Which place is animal {a} from the {h} kept in?",
        ],
        ["What does animal {a} from the {h} eat?", "Animal {a} from the {h} eats which food?", "Which food does animal {a} from the {h} eat?"],
        [
            "What colour is the blanket of animal {a} from the {h}?",
            "Animal {a} from the {h} has a blanket of which colour?",
            "Which colour is the blanket of animal {a} from the {h}?",
        ],
        [
            "What is the bowl of animal {a} from the {h} made of?",
            "The bowl of animal {a} from the {h} is made of what?",
            "Animal {a} from the {h} has a bowl made of what?",
        ],
    ];

    private static readonly string[] Notes =
    [
        "Animal {a} came to the park {t}.",
        "Visitors see animal {a} every {d}.",
        "Animal {a} is {s}.",
        "Animal {a} is {n} days old.",
        "The doctor checked animal {a} {t}.",
    ];

    private static readonly string[] Times = ["in the morning", "in the evening", "in winter", "in summer", "on sunday", "at night"];
    private static readonly string[] Days = ["morning", "evening", "week", "sunday"];
    private static readonly string[] Sizes = ["tiny", "small", "medium", "large", "huge"];

    /// <summary>Every fixed text of the domain (templates without their {x} slots), to check against the vocabulary.</summary>
    public static IEnumerable<string> FixedText =>
        Questions
            .SelectMany(q => q)
            .Concat(Notes)
            .Select(t => System.Text.RegularExpressions.Regex.Replace(t, @"\{[a-z]\}", " "))
            .Concat(Times)
            .Concat(Days)
            .Concat(Sizes)
            .Concat(Rules.SelectMany(r => new[] { r.Habitat, r.Place, r.Food, r.Colour, r.Material }));

    public static string Answer(ZooRule r, int kind) =>
        kind switch
        {
            0 => r.Place,
            1 => r.Food,
            2 => r.Colour,
            _ => r.Material,
        };

    /// <summary>Train, validation and test with disjoint animal codes and no question (with its choices) of a later split in
    /// an earlier one. Every token must already be in <paramref name="vocabulary"/>: a world too small to have a word of the domain is an error.</summary>
    public static (List<SciqItem> Train, List<SciqItem> Validation, List<SciqItem> Test) Build(SyntheticDataOptions o, ISet<string> vocabulary)
    {
        var missing = WordLevelTokenizer
            .Collect(FixedText.Append(string.Join(' ', Enumerable.Range(20, 70))))
            .Where(w => !vocabulary.Contains(w))
            .Order(StringComparer.Ordinal)
            .ToList();
        if (missing.Count > 0)
            throw new AloraException(
                $"the zoo domain needs words this world's general text does not have ({string.Join(", ", missing)}): generate a larger world or leave the zoo domain out"
            );
        var rng = new Xoshiro256(o.Seed, "zoo");
        var codes = new List<string>();
        var taken = new HashSet<string>(StringComparer.Ordinal);
        while (codes.Count < o.DomainTrainStems + o.DomainTestStems + o.DomainValidationStems)
        {
            string code = $"{rng.Between(20, 89)} {rng.Between(20, 89)}";
            if (taken.Add(code))
                codes.Add(code);
        }
        var train = Items(codes.GetRange(0, o.DomainTrainStems), o.DomainTrainItems, rng, []);
        var test = Items(codes.GetRange(o.DomainTrainStems, o.DomainTestStems), o.DomainTestItems, rng, train.Select(i => i.Key));
        var validation = Items(
            codes.GetRange(o.DomainTrainStems + o.DomainTestStems, o.DomainValidationStems),
            o.DomainValidationItems,
            rng,
            train.Concat(test).Select(i => i.Key)
        );
        return (train, validation, test);
    }

    private static List<SciqItem> Items(List<string> codes, int count, Xoshiro256 rng, IEnumerable<string> forbidden)
    {
        var keys = new HashSet<string>(forbidden, StringComparer.Ordinal);
        var items = new List<SciqItem>();
        for (int i = 0, attempts = 0; items.Count < count; attempts++)
        {
            if (attempts > 100 * count + 1000)
                throw new AloraException("too few animal codes for the number of zoo items; raise the stem counts");
            // rule and kind cycle so every (habitat, kind) pair is equally frequent in each split
            var rule = Rules[i % Rules.Length];
            int kind = i / Rules.Length % Questions.Length;
            string code = rng.Pick(codes);
            string question = rng.Pick(Questions[kind])
                .Replace("{a}", code, StringComparison.Ordinal)
                .Replace("{h}", rule.Habitat, StringComparison.Ordinal);
            var others = Rules.Where(r => r != rule).Select(r => Answer(r, kind)).ToList();
            rng.Shuffle(others);
            var item = new SciqItem(question, others[0], others[1], others[2], Answer(rule, kind), Note(code, rng));
            if (keys.Add(item.Key))
            {
                items.Add(item);
                i++;
            }
        }
        rng.Shuffle(items);
        return items;
    }

    private static string Note(string code, Xoshiro256 rng) =>
        rng.Pick(Notes)
            .Replace("{a}", code, StringComparison.Ordinal)
            .Replace("{t}", rng.Pick(Times), StringComparison.Ordinal)
            .Replace("{d}", rng.Pick(Days), StringComparison.Ordinal)
            .Replace("{s}", rng.Pick(Sizes), StringComparison.Ordinal)
            .Replace("{n}", rng.Between(20, 89).ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
}
