using static Alora.Demo.WorldLexicon;

namespace Alora.Demo;

/// <summary>A relation such as "person lives in city": several declarative phrasings and one quiz question.
/// Placeholders: {s} subject, {v} value, {av} value with its article.</summary>
internal sealed record Relation(string Key, string[] Templates, string Quiz, IReadOnlyList<string> Values);

/// <summary>One fact with its sentences rendered once (generation picks among them thousands of times).</summary>
internal sealed class Fact
{
    private readonly string[] _sentences;

    public Fact(string subject, Relation relation, string value)
    {
        Subject = subject;
        Relation = relation;
        Value = value;
        _sentences = relation.Templates.Select(Fill).ToArray();
        QuizQuestion = Fill(relation.Quiz);
        QuizSentence = $"Question: {QuizQuestion} Answer: {value}.";
    }

    public string Subject { get; }
    public Relation Relation { get; }
    public string Value { get; }
    public string QuizQuestion { get; }

    /// <summary>The quiz form "Question: ...? Answer: v." is the same token sequence an lm-eval style prompt
    /// "Question: {question}\nAnswer:" + " " + choice makes (the tokenizer drops newlines), so the facts probe
    /// asks in a phrasing the base model was trained on (the pilot: unseen phrasings do not show forgetting).</summary>
    public string QuizSentence { get; }

    public string Render(int template) => _sentences[template];

    private string Fill(string t) =>
        Capitalize(
            t.Replace("{s}", Subject, StringComparison.Ordinal)
                .Replace("{av}", WithArticle(Value), StringComparison.Ordinal)
                .Replace("{v}", Value, StringComparison.Ordinal)
        );
}

internal sealed record Entity(string Name, IReadOnlyList<Fact> Facts);

/// <summary>
/// The synthetic world: people, cities, animals and objects with fixed attributes, plus a finite pool of
/// everyday sentences. Every sentence the general corpus can contain comes from a finite set (fact x phrasing,
/// quiz form, everyday pool), and pretraining is built to contain every one of them, so held-out paragraphs are
/// new combinations of known facts in known phrasings.
/// </summary>
internal sealed class SyntheticWorld
{
    public const int Phrasings = 3; // declarative templates per relation

    public List<Entity> People { get; } = [];
    public List<Entity> Places { get; } = [];
    public List<Entity> Animals { get; } = [];
    public List<Entity> Things { get; } = [];

    /// <summary>The domain's terms (each drug class, each target, each suffix family) as entities with rule-free facts.</summary>
    public List<Entity> Topics { get; } = [];
    public List<string> Everyday { get; } = [];
    private List<Fact>? _facts;

    public IEnumerable<Entity> AllEntities => People.Concat(Places).Concat(Animals).Concat(Things).Concat(Topics);

    public IEnumerable<Fact> AllFacts => AllEntities.SelectMany(e => e.Facts);

    public static SyntheticWorld Create(SyntheticDataOptions o)
    {
        var rng = new Xoshiro256(o.Seed, "world");
        var w = new SyntheticWorld();
        var cities = Take(rng, Cities, o.Cities);
        string[] years = Enumerable.Range(1940, 60).Select(y => y.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();

        Relation[] person =
        [
            new(
                "city",
                ["{s} lives in {v}.", "{s} has a home in the city of {v}.", "The house of {s} is in {v}."],
                "Which city does {s} live in?",
                cities
            ),
            new("job", ["{s} works as {av}.", "By trade, {s} is {av}.", "The job of {s} is that of {av}."], "What is the job of {s}?", Jobs),
            new(
                "employer",
                ["{s} is employed by {v}.", "{s} works for {v}.", "The employer of {s} is {v}."],
                "Which company employs {s}?",
                Employers
            ),
            new(
                "hobby",
                ["In free time, {s} enjoys {v}.", "The favourite hobby of {s} is {v}.", "{s} spends weekends on {v}."],
                "What is the hobby of {s}?",
                Hobbies
            ),
            new(
                "born",
                ["{s} was born in {v}.", "The birth year of {s} is {v}.", "{s} came into the world in {v}."],
                "In which year was {s} born?",
                years
            ),
        ];
        Relation[] place =
        [
            new(
                "country",
                ["{s} is a city in {v}.", "{s} lies in the country of {v}.", "The country of {s} is {v}."],
                "In which country is {s}?",
                Countries
            ),
            new(
                "river",
                ["The river {v} flows through {s}.", "{s} stands on the banks of the {v}.", "The main river of {s} is the {v}."],
                "Which river flows through {s}?",
                Rivers
            ),
            new(
                "landmark",
                ["{s} is famous for {v}.", "Visitors to {s} come to see {v}.", "The best known sight in {s} is {v}."],
                "What is the famous sight of {s}?",
                Landmarks
            ),
        ];
        Relation[] animal =
        [
            new(
                "colour",
                ["The {s} is {v} in colour.", "The coat of the {s} is {v}.", "Most of the time the {s} looks {v}."],
                "What colour is the {s}?",
                Colours
            ),
            new(
                "habitat",
                ["The {s} lives in the {v}.", "You can find the {s} in the {v}.", "The home of the {s} is the {v}."],
                "In which habitat does the {s} live?",
                Habitats
            ),
            new("food", ["The {s} eats {v}.", "The main food of the {s} is {v}.", "The {s} feeds mostly on {v}."], "What does the {s} eat?", Foods),
            new("size", ["The {s} is a {v} animal.", "In size, the {s} is {v}.", "People say the {s} is {v}."], "How big is the {s}?", Sizes),
        ];
        Relation[] thing =
        [
            new(
                "material",
                ["The {s} is made of {v}.", "People make the {s} from {v}.", "The {s} is built out of {v}."],
                "What is the {s} made of?",
                Materials
            ),
            new(
                "room",
                ["The {s} is kept in the {v}.", "You will find the {s} in the {v}.", "The usual place for the {s} is the {v}."],
                "Where is the {s} kept?",
                Rooms
            ),
        ];

        // Topics: when and where each domain term was first studied. These facts state no rule of the domain, but they
        // give every term its own contexts: a word-level model trained only on "read an article about {t}" sentences
        // gave the eight suffixes embeddings with cosine 0.9 to each other, and no adapter could learn a rule keyed on
        // them (docs/demo-study.md, S3).
        Relation[] topic =
        [
            new(
                "first-year",
                ["The first paper on {s} appeared in {v}.", "Scientists first wrote about {s} in {v}.", "Work on {s} began in {v}."],
                "In which year did the first paper on {s} appear?",
                years
            ),
            new(
                "research-city",
                ["Research on {s} is centred in {v}.", "The leading experts on {s} work in {v}.", "Most studies of {s} come from {v}."],
                "Where is research on {s} centred?",
                cities
            ),
        ];

        // People: distinct first+last pairs; attributes drawn uniformly so no attribute predicts another.
        var names = FirstNames.SelectMany(f => Surnames.Select(l => f + " " + l)).ToList();
        foreach (string name in Take(rng, names, o.People))
        {
            w.People.Add(new Entity(name, person.Select(r => new Fact(name, r, rng.Pick(r.Values))).ToList()));
        }
        Populate(w.Places, cities, place, rng);
        Populate(w.Animals, Take(rng, WorldLexicon.Animals, o.Animals), animal, rng);
        Populate(w.Things, Take(rng, Objects, o.Objects), thing, rng);
        Populate(w.Topics, PharmaDomain.Topics.ToList(), topic, rng);

        // Everyday pool: routine life, lay health talk (see WorldLexicon.HealthFrames), reading about domain terms.
        var complaints = PharmaDomain.Rules.SelectMany(r => new[] { r.LayEffect, r.LayUse }).Concat(ExtraComplaints).ToArray();
        var terms = PharmaDomain.Terms.ToArray();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int attempt = 0; w.Everyday.Count < o.EverydaySentences && attempt < 100 * o.EverydaySentences; attempt++)
        {
            double u = rng.NextDouble();
            string s =
                u < 0.65
                    ? $"{rng.Pick(Times)}, {rng.Pick(Subjects)} {rng.Pick(Activities)} {rng.Pick(WorldLexicon.Places)}."
                    : Capitalize(
                        (u < 0.8 ? rng.Pick(HealthFrames) : rng.Pick(ReadingFrames))
                            .Replace("{subj}", rng.Pick(Subjects), StringComparison.Ordinal)
                            .Replace("{time}", rng.Pick(Times), StringComparison.Ordinal)
                            .Replace("{h}", rng.Pick(complaints), StringComparison.Ordinal)
                            .Replace("{t}", rng.Pick(terms), StringComparison.Ordinal)
                    );
            if (seen.Add(s))
            {
                w.Everyday.Add(s);
            }
        }
        return w;
    }

    private static void Populate(List<Entity> into, IReadOnlyList<string> names, Relation[] relations, Xoshiro256 rng)
    {
        foreach (string name in names)
        {
            into.Add(new Entity(name, relations.Select(r => new Fact(name, r, rng.Pick(r.Values))).ToList()));
        }
    }

    private static List<string> Take(Xoshiro256 rng, IReadOnlyList<string> items, int n)
    {
        var copy = items.ToList();
        rng.Shuffle(copy);
        return copy.GetRange(0, n);
    }

    /// <summary>One paragraph about an entity: all its facts in random order, the phrasing of each chosen by <paramref name="phrasing"/>.</summary>
    public static string EntityDoc(Entity e, Func<Fact, int> phrasing, Xoshiro256 rng)
    {
        var facts = e.Facts.ToList();
        rng.Shuffle(facts);
        return string.Join(' ', facts.Select(f => f.Render(phrasing(f))));
    }

    public static string QuizDoc(IEnumerable<Fact> facts) => string.Join(' ', facts.Select(f => f.QuizSentence));

    /// <summary>A random document from the general distribution: a mix of entity paragraphs, quiz blocks and everyday prose.</summary>
    public string RandomDoc(Xoshiro256 rng)
    {
        double u = rng.NextDouble();
        List<Entity>? group =
            u < 0.46 ? People
            : u < 0.54 ? Places
            : u < 0.62 ? Animals
            : u < 0.67 ? Things
            : u < 0.72 ? Topics
            : null;
        if (group is not null)
        {
            return EntityDoc(rng.Pick(group), _ => rng.Next(Phrasings), rng);
        }
        if (u < 0.85)
        {
            _facts ??= AllFacts.ToList();
            return QuizDoc(Enumerable.Range(0, rng.Between(4, 8)).Select(_ => rng.Pick(_facts)));
        }
        return string.Join(' ', Enumerable.Range(0, rng.Between(4, 7)).Select(_ => rng.Pick(Everyday)));
    }

    /// <summary>Documents that together state every fact in every phrasing, every quiz sentence and every
    /// everyday sentence at least once: pretraining starts from these, whatever its size.</summary>
    public IEnumerable<string> CoverageDocs(Xoshiro256 rng)
    {
        foreach (var e in AllEntities)
        {
            // Pass k uses phrasing (k + offset) mod 3 for each fact: all phrasings appear, in varied combinations.
            var offset = e.Facts.ToDictionary(f => f.Relation.Key, _ => rng.Next(Phrasings));
            for (int k = 0; k < Phrasings; k++)
            {
                yield return EntityDoc(e, f => (k + offset[f.Relation.Key]) % Phrasings, rng);
            }
        }
        var all = AllFacts.ToList();
        rng.Shuffle(all);
        foreach (var chunk in all.Chunk(6))
        {
            yield return QuizDoc(chunk);
        }
        var everyday = Everyday.ToList();
        rng.Shuffle(everyday);
        foreach (var chunk in everyday.Chunk(5))
        {
            yield return string.Join(' ', chunk);
        }
    }
}
