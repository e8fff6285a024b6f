using Alora.Models;

namespace Alora.Bench;

/// <summary>
/// One shape of <c>alora bench train</c>: a Llama (random weights, float32, untied lm_head), the batch it trains on
/// and the torch threads it runs with. <see cref="All"/> are the named shapes the CLI offers.
/// </summary>
public sealed record TrainBenchShape(
    string Name,
    int Vocab,
    int Hidden,
    int Layers,
    int Heads,
    int KvHeads,
    int Intermediate,
    int Seq,
    int Batch,
    int Threads
)
{
    /// <summary>
    /// Timed steps when --steps is not given: 5, and 2 (the fewest whose median is not one sample) for the 1.1B shape,
    /// whose step takes some 15 s on two cores.
    /// </summary>
    public int DefaultSteps { get; init; } = 5;

    public int HeadDim => Hidden / Heads;

    /// <summary>Tokens of one optimizer step: batch * seq (every position is fed forward; seq - 1 of them are targets).</summary>
    public long TokensPerStep => (long)Batch * Seq;

    public static IReadOnlyList<TrainBenchShape> All { get; } =
    [
        new("demo", 830, 128, 4, 4, 4, 344, 128, 16, 1),
        new("default-1t", 8192, 256, 4, 8, 4, 688, 256, 8, 1),
        new("default-2t", 8192, 256, 4, 8, 4, 688, 256, 8, 2),
        new("wide", 8192, 1024, 2, 16, 16, 2816, 128, 4, 2),
        // TinyLlama-1.1B's config.json (22 layers, GQA 32/4), built from the config alone with random weights
        new("tinyllama-1.1b", 32000, 2048, 22, 32, 4, 5632, 256, 1, 2) { DefaultSteps = 2 },
    ];

    public static string Names => string.Join(", ", All.Select(s => s.Name));

    public static TrainBenchShape Named(string name) =>
        All.FirstOrDefault(s => s.Name == name.Trim()) ?? throw new AloraException($"unknown shape '{name.Trim()}': the shapes are {Names}");

    /// <summary>"demo,wide" -> those shapes in the order given, each once.</summary>
    public static IReadOnlyList<TrainBenchShape> Parse(string list)
    {
        var names = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (names.Length == 0)
            throw new AloraException($"--shapes is empty: give one or more of {Names}");
        return names.Select(Named).Distinct().ToList();
    }

    public LlamaConfig ModelConfig() =>
        new()
        {
            Architectures = ["LlamaForCausalLM"],
            ModelType = "llama",
            VocabSize = Vocab,
            HiddenSize = Hidden,
            IntermediateSize = Intermediate,
            NumHiddenLayers = Layers,
            NumAttentionHeads = Heads,
            NumKeyValueHeads = KvHeads,
            MaxPositionEmbeddings = Math.Max(2048, Seq),
            RmsNormEps = 1e-5,
            RopeTheta = 10000,
            BosTokenId = [1],
            EosTokenId = [2],
            TieWordEmbeddings = false,
        };
}
