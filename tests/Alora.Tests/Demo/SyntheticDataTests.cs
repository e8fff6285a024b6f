using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Alora.Demo;

namespace Alora.Tests.Demo;

public sealed partial class SyntheticDataTests(SyntheticDataFixture data) : IClassFixture<SyntheticDataFixture>
{
    [GeneratedRegex(@"(\w+)-(\w+)")]
    private static partial Regex DrugName();

    private static Dictionary<string, byte[]> ReadTree(string dir) =>
        Directory
            .GetFiles(dir, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(dir, f).Replace('\\', '/'), File.ReadAllBytes);

    private static IEnumerable<string> SciqTexts(JsonElement e) =>
        new[] { "question", "distractor1", "distractor2", "distractor3", "correct_answer", "support" }.Select(k => e.GetProperty(k).GetString()!);

    private static string SciqKey(JsonElement e) =>
        e.GetProperty("question").GetString() + "|" + string.Join("|", SciqTexts(e).Skip(1).Take(4).Order(StringComparer.Ordinal));

    [Fact]
    public void SameSeedGivesByteIdenticalFilesAndDifferentSeedDifferentOnes()
    {
        using TempDir a = new(),
            b = new(),
            c = new();
        SyntheticData.Generate(a.Path, SyntheticDataOptions.Quick);
        SyntheticData.Generate(b.Path, SyntheticDataOptions.Quick);
        SyntheticData.Generate(c.Path, SyntheticDataOptions.Quick with { Seed = 99 });
        var ta = ReadTree(a.Path);
        var tb = ReadTree(b.Path);
        var tc = ReadTree(c.Path);
        Assert.Equal(10, ta.Count); // 9 data files + manifest, and no temporary file left behind
        Assert.Equal(ta.Keys.Order(), tb.Keys.Order());
        foreach (var (path, bytes) in ta)
        {
            Assert.True(bytes.AsSpan().SequenceEqual(tb[path]), $"{path} differs between two runs with one seed");
        }
        foreach (
            string path in new[]
            {
                SyntheticData.Pretrain,
                SyntheticData.Nu,
                SyntheticData.Heldout,
                SyntheticData.FactsTest,
                SyntheticData.DomainTrain,
                SyntheticData.DomainValidation,
                SyntheticData.DomainTest,
            }
        )
        {
            Assert.False(ta[path].AsSpan().SequenceEqual(tc[path]), $"{path} is the same under another seed");
        }
    }

    [Fact]
    public void DefaultSizesAndManifestMatchTheFiles()
    {
        var m = SyntheticDataManifest.Load(Path.Combine(data.Dir, SyntheticData.Manifest));
        Assert.Equal(data.Manifest.VocabSize, m.VocabSize);
        Assert.Equal(data.Options, m.Options);
        Assert.InRange(m.VocabSize, 500, 2000);
        Assert.InRange(m.File(SyntheticData.Pretrain).Words, 300_000, 310_000);
        Assert.InRange(m.File(SyntheticData.Nu).Words, 60_000, 61_000);
        Assert.InRange(m.File(SyntheticData.Heldout).Words, 20_000, 21_000);
        Assert.Equal(300, m.File(SyntheticData.FactsTest).Documents);
        Assert.Equal(2000, m.File(SyntheticData.DomainTrain).Documents);
        Assert.Equal(300, m.File(SyntheticData.DomainTest).Documents);
        Assert.Equal(300, m.File(SyntheticData.DomainValidation).Documents);
        foreach (var f in m.Files.Where(f => f.Format != "hf-tokenizer" && f.Format != "hf-tokenizer-config"))
        {
            Assert.Equal(f.Documents, data.Lines(f.Path).Length);
            Assert.DoesNotContain(data.Lines(f.Path), string.IsNullOrWhiteSpace);
        }
    }

    [Fact]
    public void GenerationIsFast()
    {
        // Release builds take about 0.25 s on an idle 2-core machine; this Debug test, sharing the cores with
        // the other tests (and here with other builds), gets a wide margin and the best of two warm runs.
        using var dir = new TempDir();
        var best = TimeSpan.MaxValue;
        for (int i = 0; i < 2; i++)
        {
            var sw = Stopwatch.StartNew();
            SyntheticData.Generate(dir.Path, data.Options);
            best = sw.Elapsed < best ? sw.Elapsed : best;
        }
        Assert.True(best < TimeSpan.FromSeconds(5), $"took {best}");
    }

    [Fact]
    public void HeldoutIsNewParagraphsOfKnownSentences()
    {
        var pretrain = data.Lines(SyntheticData.Pretrain);
        var earlier = pretrain.Concat(data.Lines(SyntheticData.Nu)).ToHashSet(StringComparer.Ordinal);
        var known = pretrain.SelectMany(SyntheticDataFixture.Sentences).ToHashSet(StringComparer.Ordinal);
        var heldout = data.Lines(SyntheticData.Heldout);
        Assert.DoesNotContain(heldout, earlier.Contains);
        Assert.DoesNotContain(data.Lines(SyntheticData.Nu), pretrain.ToHashSet(StringComparer.Ordinal).Contains);
        Assert.All(heldout.SelectMany(SyntheticDataFixture.Sentences), s => Assert.Contains(s, known));
    }

    [Fact]
    public void EveryFactIsStatedInPretrainInEveryPhrasingAndTheProbeAsksTrueOnes()
    {
        var known = data.Lines(SyntheticData.Pretrain).SelectMany(SyntheticDataFixture.Sentences).ToHashSet(StringComparer.Ordinal);
        var world = SyntheticWorld.Create(data.Options);
        foreach (var f in world.AllFacts)
        {
            for (int k = 0; k < SyntheticWorld.Phrasings; k++)
            {
                Assert.Contains(f.Render(k), known);
            }
            Assert.Contains(f.QuizSentence, known);
        }
        var items = data.Jsonl(SyntheticData.FactsTest);
        Assert.Equal(items.Count, items.Select(i => i.GetProperty("question").GetString()).Distinct().Count());
        foreach (var item in items)
        {
            string q = item.GetProperty("question").GetString()!;
            var choices = item.GetProperty("choices").EnumerateArray().Select(c => c.GetString()!).ToList();
            int answer = item.GetProperty("answer").GetInt32();
            Assert.Equal(4, choices.Distinct().Count());
            for (int i = 0; i < 4; i++)
            {
                // The true answer is in pretrain in this very quiz phrasing; no distractor is.
                Assert.Equal(i == answer, known.Contains($"Question: {q} Answer: {choices[i]}."));
            }
        }
    }

    [Fact]
    public void AnswersAreSpreadOverAllPositionsAndRules()
    {
        var positions = data.Jsonl(SyntheticData.FactsTest).GroupBy(i => i.GetProperty("answer").GetInt32()).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(4, positions.Count);
        Assert.All(positions.Values, n => Assert.InRange(n, 45, 105)); // 75 expected each out of 300

        // SciQ puts the correct answer in its own field; lm-eval's choice order is fixed by the layout, so the
        // checks are that distractor slots vary and that every rule and answer is equally represented.
        var test = data.Jsonl(SyntheticData.DomainTest);
        Assert.True(test.Select(e => e.GetProperty("distractor1").GetString()).Distinct().Count() >= 20);
        var perAnswer = test.GroupBy(e => e.GetProperty("correct_answer").GetString()).Select(g => g.Count()).ToList();
        Assert.Equal(32, perAnswer.Count);
        Assert.Equal(9, perAnswer.Min());
        Assert.Equal(10, perAnswer.Max());
    }

    [Theory]
    [InlineData(SyntheticData.DomainTest)]
    [InlineData(SyntheticData.DomainValidation)]
    public void HeldOutDomainSplitsAreNewStemsUnderTheTrainRules(string split)
    {
        var train = data.Jsonl(SyntheticData.DomainTrain);
        var test = data.Jsonl(split);
        var trainKeys = train.Select(SciqKey).ToHashSet(StringComparer.Ordinal);
        Assert.Equal(train.Count, trainKeys.Count);
        Assert.DoesNotContain(test.Select(SciqKey), trainKeys.Contains);
        var trainQuestions = train.Select(e => e.GetProperty("question").GetString()).ToHashSet(StringComparer.Ordinal);
        Assert.DoesNotContain(test.Select(e => e.GetProperty("question").GetString()), trainQuestions.Contains);

        var trainTokens = train
            .SelectMany(SciqTexts)
            .Concat(data.Lines(SyntheticData.Pretrain))
            .Concat(data.Lines(SyntheticData.Nu))
            .Concat(data.Lines(SyntheticData.Heldout))
            .SelectMany(WordLevelTokenizer.PreTokenize)
            .ToHashSet(StringComparer.Ordinal);
        var rules = PharmaDomain.Rules.ToDictionary(r => r.Suffix);
        int kinds = 0;
        foreach (var e in test)
        {
            var match = DrugName().Match(e.GetProperty("question").GetString()!);
            Assert.True(match.Success);
            Assert.DoesNotContain(match.Groups[1].Value.ToLowerInvariant(), trainTokens);
            // A model that learned the suffix rules answers every held-out item: the answer is the rule's attribute.
            var rule = rules[match.Groups[2].Value];
            string correct = e.GetProperty("correct_answer").GetString()!;
            Assert.Contains(correct, Enumerable.Range(0, 4).Select(k => PharmaDomain.Answer(rule, k)));
            Assert.DoesNotContain(correct, SciqTexts(e).Skip(1).Take(3));
            Assert.DoesNotContain(correct, e.GetProperty("support").GetString()!, StringComparison.Ordinal);
            kinds++;
        }
        Assert.Equal(300, kinds);
    }

    [Fact]
    public void ValidationAndTestShareNoStemAndNoQuestion()
    {
        var validation = data.Jsonl(SyntheticData.DomainValidation);
        var test = data.Jsonl(SyntheticData.DomainTest);
        HashSet<string> Stems(List<JsonElement> items) =>
            items
                .Select(e => DrugName().Match(e.GetProperty("question").GetString()!).Groups[1].Value.ToLowerInvariant())
                .ToHashSet(StringComparer.Ordinal);
        var validationStems = Stems(validation);
        Assert.Equal(60, validationStems.Count);
        Assert.DoesNotContain(Stems(test), validationStems.Contains);
        var validationKeys = validation.Select(SciqKey).ToHashSet(StringComparer.Ordinal);
        Assert.DoesNotContain(test.Select(SciqKey), validationKeys.Contains);
    }

    [Fact]
    public void GeneralTextNamesDomainTermsButStatesNoRule()
    {
        var general = new[] { SyntheticData.Pretrain, SyntheticData.Nu, SyntheticData.Heldout }
            .SelectMany(data.Lines)
            .SelectMany(SyntheticDataFixture.Sentences)
            .ToList();
        foreach (var rule in PharmaDomain.Rules)
        {
            // Each suffix and class name is in pretraining (so its embedding is trained) ...
            Assert.Contains(general, s =>
                s.Contains("-" + rule.Suffix + " ", StringComparison.Ordinal) || s.EndsWith("-" + rule.Suffix + ".", StringComparison.Ordinal)
            );
            Assert.Contains(general, s => s.Contains(rule.Class, StringComparison.Ordinal));
            // ... but never in a sentence with one of its rule's attributes, and no drug name occurs.
            string[] attributes = [rule.Class, rule.Target, rule.Effect, rule.Use, rule.LayEffect, rule.LayUse];
            Assert.DoesNotContain(general, s =>
                s.Contains("-" + rule.Suffix, StringComparison.Ordinal) && attributes.Any(a => s.Contains(a, StringComparison.Ordinal))
            );
        }
        Assert.DoesNotContain(general, s => DrugName().IsMatch(s));
    }

    [Fact]
    public void TokenizerLoadsAndEncodesEveryFileWithoutUnknownsAndRoundTrips()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(data.Dir, SyntheticData.Tokenizer)));
        var root = doc.RootElement;
        Assert.Equal("WordLevel", root.GetProperty("model").GetProperty("type").GetString());
        Assert.Equal("Whitespace", root.GetProperty("pre_tokenizer").GetProperty("type").GetString());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("post_processor").ValueKind);
        var vocab = root.GetProperty("model").GetProperty("vocab").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt32());
        Assert.Equal(data.Manifest.VocabSize, vocab.Count);
        Assert.Equal(new[] { 0, 1, 2, 3 }, new[] { "<unk>", "<s>", "</s>", "<pad>" }.Select(t => vocab[t]));
        Assert.All(Enumerable.Range(0, 10), d => Assert.Contains(d.ToString(System.Globalization.CultureInfo.InvariantCulture), vocab.Keys));

        var tok = new Tokenizers.DotNet.Tokenizer(vocabPath: Path.Combine(data.Dir, SyntheticData.Tokenizer));
        var texts = new[] { SyntheticData.Pretrain, SyntheticData.Nu, SyntheticData.Heldout }
            .SelectMany(data.Lines)
            .Concat(
                data.Jsonl(SyntheticData.FactsTest)
                    .SelectMany(e =>
                        e.GetProperty("choices").EnumerateArray().Select(c => c.GetString()!).Append(e.GetProperty("question").GetString()!)
                    )
            )
            .Concat(
                new[] { SyntheticData.DomainTrain, SyntheticData.DomainValidation, SyntheticData.DomainTest }
                    .SelectMany(data.Jsonl)
                    .SelectMany(SciqTexts)
            );
        long tokens = 0;
        foreach (string text in texts)
        {
            uint[] ids = tok.Encode(text);
            // No unknowns, and no special token added: there is no post-processor, BOS is the caller's job.
            Assert.DoesNotContain(ids, id => id < 4);
            Assert.Equal(string.Join(' ', WordLevelTokenizer.PreTokenize(text)), tok.Decode(ids));
            tokens += ids.Length;
        }
        Assert.True(tokens > 400_000);
        // The lm-eval prompt words around the data are known too.
        Assert.DoesNotContain(tok.Encode("Question: Which?\nAnswer: A. B. C. D. Choices:"), id => id == 0);
    }

    [Fact]
    public void InvalidOptionsAreRejected()
    {
        using var dir = new TempDir();
        Assert.Throws<AloraException>(() => SyntheticData.Generate(dir.Path, SyntheticDataOptions.Quick with { Cities = 3 }));
        Assert.Throws<AloraException>(() => SyntheticData.Generate(dir.Path, SyntheticDataOptions.Quick with { People = 0 }));
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path)); // options are checked before anything is written
    }
}
