using System.Text.Json;
using Alora.Demo;
using Alora.Tokenization;

namespace Alora.Tests.Demo;

/// <summary>
/// The demo world's second domain (zoo): it leaves the tokenizer and the pretraining text (so the cached base model)
/// as they are, every token of it is a word the base model was trained on, its splits share no animal code, and its
/// answers follow the habitat rules.
/// </summary>
public sealed class ZooDomainTests
{
    static List<JsonElement> Items(string dir, string file) =>
        File.ReadAllLines(Path.Combine(dir, file)).Select(l => JsonDocument.Parse(l).RootElement).ToList();

    [Fact]
    public void TheZooDomainChangesNeitherTheTokenizerNorThePretrainingTextAndAddsNoUnknownToken()
    {
        using var with = new TempDir();
        using var without = new TempDir();
        var manifest = SyntheticData.Generate(with.Path, DemoOptions.World);
        SyntheticData.Generate(without.Path, DemoOptions.World with { ZooDomain = false });
        foreach (
            var f in new[] { SyntheticData.Pretrain, SyntheticData.Nu, SyntheticData.Heldout, SyntheticData.Tokenizer, SyntheticData.DomainTrain }
        )
            Assert.Equal(File.ReadAllBytes(Path.Combine(without.Path, f)), File.ReadAllBytes(Path.Combine(with.Path, f)));
        Assert.False(Directory.Exists(Path.Combine(without.Path, "zoo")));
        Assert.Equal(256, manifest.File(SyntheticData.ZooTest).Documents);

        using var tok = TextTokenizer.Load(with.Path);
        foreach (var file in new[] { SyntheticData.ZooTrain, SyntheticData.ZooValidation, SyntheticData.ZooTest })
        foreach (var item in Items(with.Path, file))
        foreach (var field in new[] { "question", "distractor1", "distractor2", "distractor3", "correct_answer", "support" })
        {
            var text = item.GetProperty(field).GetString()!;
            Assert.DoesNotContain(0, tok.Encode(text)); // <unk> is id 0
        }
    }

    [Fact]
    public void TheSplitsShareNoAnimalAndEachAnswerIsTheHabitatsRule()
    {
        using var tmp = new TempDir();
        SyntheticData.Generate(tmp.Path, DemoOptions.World);
        static string Code(JsonElement e) =>
            System
                .Text.RegularExpressions.Regex.Match(
                    e.GetProperty("question").GetString()!,
                    @"animal (\d+ \d+)",
                    System.Text.RegularExpressions.RegexOptions.IgnoreCase
                )
                .Groups[1]
                .Value;
        var splits = new[] { SyntheticData.ZooTrain, SyntheticData.ZooValidation, SyntheticData.ZooTest }.Select(f => Items(tmp.Path, f)).ToList();
        var codes = splits.Select(s => s.Select(Code).ToHashSet()).ToList();
        Assert.All(codes, c => Assert.DoesNotContain("", c));
        Assert.Empty(codes[0].Intersect(codes[1]));
        Assert.Empty(codes[0].Intersect(codes[2]));
        Assert.Empty(codes[1].Intersect(codes[2]));
        // hand-picked rules: what an animal from the forest eats, where one from the sea is kept, the colour of the
        // blanket of one from the desert, what the bowl of one from the jungle is made of
        var expected = new (string Habitat, string Asks, string Answer)[]
        {
            ("forest", "eat", "seeds"),
            ("sea", "kept", "bathroom"),
            ("desert", "colour", "golden"),
            ("jungle", "made of", "bamboo"),
        };
        var all = splits.SelectMany(s => s).ToList();
        foreach (var (habitat, asks, answer) in expected)
        {
            var matching = all.Where(e =>
                    e.GetProperty("question").GetString()!.Contains($"from the {habitat}", StringComparison.Ordinal)
                    && e.GetProperty("question").GetString()!.Contains(asks, StringComparison.Ordinal)
                )
                .ToList();
            Assert.NotEmpty(matching);
            Assert.All(matching, e => Assert.Equal(answer, e.GetProperty("correct_answer").GetString()));
        }
        // 8 habitats x 4 kinds, each as often as the others in the training split (240 items: 7 or 8 each)
        var counts = splits[0].GroupBy(e => e.GetProperty("correct_answer").GetString()).Select(g => g.Count()).ToList();
        Assert.Equal(32, counts.Count);
        Assert.InRange(counts.Max() - counts.Min(), 0, 1);
    }
}
