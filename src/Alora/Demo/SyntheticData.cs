using System.Text;
using System.Text.Json;
using Alora.IO;

namespace Alora.Demo;

/// <summary>Sizes of the offline demo's synthetic data. Every size is a target; pretrain is never smaller than
/// its coverage part (each fact in each phrasing, each quiz and everyday sentence once).</summary>
public sealed record SyntheticDataOptions(
    int Seed = 1234,
    int People = 300,
    int Cities = 40,
    int Animals = 30,
    int Objects = 30,
    int EverydaySentences = 600,
    int PretrainWords = 300_000,
    int NuWords = 60_000,
    int HeldoutWords = 20_000,
    int FactsTestItems = 300,
    int DomainTrainItems = 2000,
    int DomainTestItems = 300,
    int DomainTrainStems = 200,
    int DomainTestStems = 60,
    int DomainValidationItems = 300,
    int DomainValidationStems = 60,
    int ModelMaxLength = 256,
    bool ZooDomain = false
)
{
    /// <summary>A small world for tests and smoke runs (about 30k words in all).</summary>
    public static SyntheticDataOptions Quick { get; } =
        new(
            People: 40,
            Cities: 12,
            Animals: 10,
            Objects: 10,
            EverydaySentences: 100,
            PretrainWords: 20_000,
            NuWords: 4_000,
            HeldoutWords: 2_000,
            FactsTestItems: 60,
            DomainTrainItems: 240,
            DomainTestItems: 64,
            DomainTrainStems: 40,
            DomainTestStems: 12,
            DomainValidationItems: 64,
            DomainValidationStems: 12
        );

    public void Validate()
    {
        static void Check(bool ok, string what)
        {
            if (!ok)
            {
                throw new AloraException("synthetic data option out of range: " + what);
            }
        }
        Check(People >= 1 && People <= WorldLexicon.FirstNames.Length * WorldLexicon.Surnames.Length, $"People {People}");
        Check(Cities >= 4 && Cities <= WorldLexicon.Cities.Length, $"Cities {Cities} (4 to {WorldLexicon.Cities.Length})");
        Check(Animals >= 1 && Animals <= WorldLexicon.Animals.Length, $"Animals {Animals}");
        Check(Objects >= 1 && Objects <= WorldLexicon.Objects.Length, $"Objects {Objects}");
        Check(EverydaySentences >= 1 && EverydaySentences <= 10_000, $"EverydaySentences {EverydaySentences}");
        Check(PretrainWords >= 0 && NuWords >= 1 && HeldoutWords >= 1, "word counts");
        Check(FactsTestItems >= 0 && DomainTrainItems >= 0 && DomainTestItems >= 0 && DomainValidationItems >= 0, "item counts");
        Check(
            DomainTrainStems >= 1
                && DomainTestStems >= 1
                && DomainValidationStems >= 1
                && DomainTrainStems + DomainTestStems + DomainValidationStems <= 3000,
            "stem counts"
        );
        Check(ModelMaxLength >= 8, $"ModelMaxLength {ModelMaxLength}");
    }
}

/// <summary>One written file: path relative to the output folder ('/'-separated), its format, and counts over
/// its text (for JSONL, over the question, choice and support fields). Tokens: word-level tokens, no BOS.</summary>
public sealed record SyntheticDataFile(string Path, string Format, int Documents, long Words, long Tokens);

public sealed record SyntheticDataManifest(int Seed, int VocabSize, IReadOnlyList<SyntheticDataFile> Files, SyntheticDataOptions Options)
{
    internal static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        NewLine = "\n",
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
    };

    public SyntheticDataFile File(string path) => Files.Single(f => f.Path == path);

    public static SyntheticDataManifest Load(string path) =>
        JsonSerializer.Deserialize<SyntheticDataManifest>(System.IO.File.ReadAllText(path), Json)
        ?? throw new AloraException($"empty manifest: {path}");
}

/// <summary>
/// Writes the offline demo's data, deterministically from the seed and without the network:
/// general/pretrain.txt, general/nu.txt, general/heldout.txt (one document per line), general/facts-test.jsonl
/// (generic multiple choice), domain/train.jsonl, domain/validation.jsonl and domain/test.jsonl (SciQ layout), tokenizer.json and
/// tokenizer_config.json (HuggingFace word-level), manifest.json. Each file is written to a temporary name
/// and renamed, so a reader never sees half a file.
/// </summary>
public static class SyntheticData
{
    public const string Pretrain = "general/pretrain.txt";
    public const string Nu = "general/nu.txt";
    public const string Heldout = "general/heldout.txt";
    public const string FactsTest = "general/facts-test.jsonl";
    public const string DomainTrain = "domain/train.jsonl";
    public const string DomainTest = "domain/test.jsonl";
    public const string DomainValidation = "domain/validation.jsonl";

    /// <summary>The second domain (<see cref="SyntheticDataOptions.ZooDomain"/>), for sequential tuning after the first.</summary>
    public const string ZooTrain = "zoo/train.jsonl";
    public const string ZooValidation = "zoo/validation.jsonl";
    public const string ZooTest = "zoo/test.jsonl";
    public const string Tokenizer = "tokenizer.json";
    public const string TokenizerConfig = "tokenizer_config.json";
    public const string Manifest = "manifest.json";

    public static SyntheticDataManifest Generate(string outDir, SyntheticDataOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var world = SyntheticWorld.Create(options);
        var general = GeneralCorpus.Build(world, options);

        // Stems must not be words of any other text, or "stem unseen in train" would not hold token-wise.
        var words = WordLevelTokenizer.Collect(
            general.Pretrain.Concat(general.Nu).Concat(general.Heldout).Concat(general.FactsTest.SelectMany(Texts))
        );
        var reserved = WordLevelTokenizer.Collect(PharmaDomain.FixedText, new HashSet<string>(words, StringComparer.Ordinal));
        var (train, validation, test) = PharmaDomain.Build(options, reserved);
        var vocab = WordLevelTokenizer.BuildVocab(WordLevelTokenizer.Collect(train.Concat(validation).Concat(test).SelectMany(Texts), words));

        List<SyntheticDataFile> files =
        [
            WriteLines(outDir, Pretrain, "text", general.Pretrain, general.Pretrain),
            WriteLines(outDir, Nu, "text", general.Nu, general.Nu),
            WriteLines(outDir, Heldout, "text", general.Heldout, general.Heldout),
            WriteLines(
                outDir,
                FactsTest,
                "choice-jsonl",
                general.FactsTest.Select(ChoiceJson),
                general.FactsTest.Select(i => string.Join(' ', Texts(i)))
            ),
            WriteLines(outDir, DomainTrain, "sciq-jsonl", train.Select(SciqJson), train.Select(i => string.Join(' ', Texts(i)))),
            WriteLines(outDir, DomainValidation, "sciq-jsonl", validation.Select(SciqJson), validation.Select(i => string.Join(' ', Texts(i)))),
            WriteLines(outDir, DomainTest, "sciq-jsonl", test.Select(SciqJson), test.Select(i => string.Join(' ', Texts(i)))),
            .. options.ZooDomain ? Zoo(outDir, options, vocab) : [],
            WriteText(outDir, Tokenizer, "hf-tokenizer", WordLevelTokenizer.TokenizerJson(vocab), 1),
            WriteText(outDir, TokenizerConfig, "hf-tokenizer-config", WordLevelTokenizer.TokenizerConfigJson(options.ModelMaxLength), 1),
        ];
        var manifest = new SyntheticDataManifest(options.Seed, vocab.Count, files, options);
        WriteAtomic(Path.Combine(outDir, Manifest), JsonSerializer.Serialize(manifest, SyntheticDataManifest.Json) + "\n");
        return manifest;
    }

    /// <summary>The zoo domain's splits, from the words the vocabulary already has (it adds none).</summary>
    private static SyntheticDataFile[] Zoo(string outDir, SyntheticDataOptions options, IReadOnlyList<string> vocab)
    {
        var (train, validation, test) = ZooDomain.Build(options, new HashSet<string>(vocab, StringComparer.Ordinal));
        return
        [
            WriteLines(outDir, ZooTrain, "sciq-jsonl", train.Select(SciqJson), train.Select(i => string.Join(' ', Texts(i)))),
            WriteLines(outDir, ZooValidation, "sciq-jsonl", validation.Select(SciqJson), validation.Select(i => string.Join(' ', Texts(i)))),
            WriteLines(outDir, ZooTest, "sciq-jsonl", test.Select(SciqJson), test.Select(i => string.Join(' ', Texts(i)))),
        ];
    }

    private static IEnumerable<string> Texts(ChoiceItem i) => i.Choices.Prepend(i.Question);

    private static IEnumerable<string> Texts(SciqItem i) => [i.Question, i.Distractor1, i.Distractor2, i.Distractor3, i.CorrectAnswer, i.Support];

    private static string ChoiceJson(ChoiceItem i) =>
        JsonLine(w =>
        {
            w.WriteString("question", i.Question);
            w.WriteStartArray("choices");
            foreach (string c in i.Choices)
            {
                w.WriteStringValue(c);
            }
            w.WriteEndArray();
            w.WriteNumber("answer", i.Answer);
        });

    private static string SciqJson(SciqItem i) =>
        JsonLine(w =>
        {
            w.WriteString("question", i.Question);
            w.WriteString("distractor1", i.Distractor1);
            w.WriteString("distractor2", i.Distractor2);
            w.WriteString("distractor3", i.Distractor3);
            w.WriteString("correct_answer", i.CorrectAnswer);
            w.WriteString("support", i.Support);
        });

    private static string JsonLine(Action<Utf8JsonWriter> body)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (
            var w = new Utf8JsonWriter(
                buffer,
                new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }
            )
        )
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static SyntheticDataFile WriteLines(string outDir, string rel, string format, IEnumerable<string> lines, IEnumerable<string> texts)
    {
        var sb = new StringBuilder();
        int n = 0;
        foreach (string line in lines)
        {
            sb.Append(line).Append('\n');
            n++;
        }
        long words = 0,
            tokens = 0;
        foreach (string t in texts)
        {
            words += GeneralCorpus.CountWords(t);
            tokens += WordLevelTokenizer.CountTokens(t);
        }
        WriteAtomic(Path.Combine(outDir, rel), sb.ToString());
        return new SyntheticDataFile(rel, format, n, words, tokens);
    }

    private static SyntheticDataFile WriteText(string outDir, string rel, string format, string text, int documents)
    {
        WriteAtomic(Path.Combine(outDir, rel), text);
        return new SyntheticDataFile(rel, format, documents, 0, 0);
    }

    /// <summary>UTF-8 without BOM, '\n' line ends, through a temporary sibling and a rename.</summary>
    private static void WriteAtomic(string path, string text) => AtomicFile.WriteAllText(path, text);
}
