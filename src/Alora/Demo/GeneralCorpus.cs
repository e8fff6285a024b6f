namespace Alora.Demo;

/// <summary>One item of the generic multiple-choice layout: {"question", "choices", "answer"}.</summary>
internal sealed record ChoiceItem(string Question, IReadOnlyList<string> Choices, int Answer);

/// <summary>
/// The general splits. pretrain = coverage documents (every sentence of the world at least once) plus random
/// documents up to the word budget; nu and heldout = random documents from the same distribution that do not
/// occur (as whole documents) in any earlier split. Because every sentence is in pretrain, heldout is new
/// paragraphs about known facts in known phrasings, the text on which forgetting shows (pilot finding).
/// </summary>
internal sealed class GeneralCorpus
{
    public List<string> Pretrain { get; } = [];
    public List<string> Nu { get; } = [];
    public List<string> Heldout { get; } = [];
    public List<ChoiceItem> FactsTest { get; } = [];

    public static GeneralCorpus Build(SyntheticWorld world, SyntheticDataOptions o)
    {
        var c = new GeneralCorpus();
        var seen = new HashSet<string>(StringComparer.Ordinal);

        var rng = new Xoshiro256(o.Seed, "pretrain");
        long words = 0;
        foreach (string doc in world.CoverageDocs(rng))
        {
            if (seen.Add(doc))
            {
                c.Pretrain.Add(doc);
                words += CountWords(doc);
            }
        }
        Fill(c.Pretrain, world, rng, seen, o.PretrainWords - words);
        rng.Shuffle(c.Pretrain); // coverage documents should not all come first in a file read in order

        Fill(c.Nu, world, new Xoshiro256(o.Seed, "nu"), seen, o.NuWords);
        Fill(c.Heldout, world, new Xoshiro256(o.Seed, "heldout"), seen, o.HeldoutWords);

        // Facts probe: distinct facts, 3 distractors from the same relation's values, answer at a random position.
        var frng = new Xoshiro256(o.Seed, "facts");
        var facts = world.AllFacts.ToList();
        frng.Shuffle(facts);
        foreach (var f in facts.Take(o.FactsTestItems))
        {
            var choices = frng.Distinct(f.Relation.Values, 3, f.Value);
            int answer = frng.Next(4);
            choices.Insert(answer, f.Value);
            c.FactsTest.Add(new ChoiceItem(f.QuizQuestion, choices, answer));
        }
        return c;
    }

    private static void Fill(List<string> into, SyntheticWorld world, Xoshiro256 rng, HashSet<string> seen, long wordBudget)
    {
        long words = 0;
        int rejected = 0;
        while (words < wordBudget)
        {
            string doc = world.RandomDoc(rng);
            if (!seen.Add(doc))
            {
                // Short documents (a tiny world) can run out of new combinations: stop rather than loop forever.
                if (++rejected > 100_000)
                {
                    throw new AloraException($"the synthetic world is too small to make {wordBudget} words of new documents; enlarge it");
                }
                continue;
            }
            into.Add(doc);
            words += CountWords(doc);
        }
    }

    public static int CountWords(string text)
    {
        int n = 0;
        bool inWord = false;
        foreach (char ch in text)
        {
            bool space = char.IsWhiteSpace(ch);
            if (!space && !inWord)
            {
                n++;
            }
            inWord = !space;
        }
        return n;
    }
}
