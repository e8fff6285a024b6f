using System.Text.Json;
using Alora.Data;
using Alora.IO;
using Alora.Models;
using Alora.Runtime;
using Alora.Tokenization;
using Alora.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Recipes;

/// <summary>Settings of pretraining a small Llama from scratch (the offline demo's base model).</summary>
public sealed record PretrainOptions
{
    /// <summary>Folder with tokenizer.json (and tokenizer_config.json): its vocabulary sizes the model.</summary>
    public string Tokenizer { get; init; } = "";
    public string Data { get; init; } = "";
    public string Out { get; init; } = "";
    public int Hidden { get; init; } = 128;
    public int Layers { get; init; } = 4;
    public int Heads { get; init; } = 4;
    public int KvHeads { get; init; } = 4;
    public int Intermediate { get; init; } = 344;
    public int MaxLength { get; init; } = 128;
    public int MaxSteps { get; init; } = 1000;
    public int BatchSize { get; init; } = 16;
    public int MicroBatchSize { get; init; } = 16;
    public double Lr { get; init; } = 3e-3;
    public double WeightDecay { get; init; } = 0.01;
    public double WarmupRatio { get; init; } = 0.05;
    public long Seed { get; init; } = 1234;

    /// <summary>Share the input embedding with the output projection (config tie_word_embeddings).</summary>
    public bool TieWordEmbeddings { get; init; } = true;
    public bool Resume { get; init; }
}

/// <summary>
/// Pretraining recipe: a LlamaForCausalLM (embeddings tied unless told otherwise) initialised N(0, 0.02), every parameter
/// trained on packed text with AdamW and a cosine schedule, saved as a HuggingFace model folder with
/// the tokenizer beside it. Metrics and checkpoints go to OUT/pretrain-run/ so an interrupted run resumes.
/// </summary>
public static class PretrainRecipe
{
    public static LlamaConfig ModelConfig(PretrainOptions o, TextTokenizer tok) =>
        new()
        {
            Architectures = ["LlamaForCausalLM"],
            ModelType = "llama",
            VocabSize = tok.VocabSize,
            HiddenSize = o.Hidden,
            IntermediateSize = o.Intermediate,
            NumHiddenLayers = o.Layers,
            NumAttentionHeads = o.Heads,
            NumKeyValueHeads = o.KvHeads,
            MaxPositionEmbeddings = o.MaxLength,
            RmsNormEps = 1e-5,
            RopeTheta = 10000,
            TieWordEmbeddings = o.TieWordEmbeddings,
            TorchDtype = "float32",
            BosTokenId = tok.BosId is { } b ? [b] : null,
            EosTokenId = tok.EosId is { } e ? [e] : null,
            PadTokenId = tok.PadId is { } p ? [p] : null,
        };

    public static IReadOnlyList<StepMetrics> Run(PretrainOptions o, IProgress<TrainProgress>? progress = null)
    {
        TorchRuntime.Initialize();
        using var tok = TextTokenizer.Load(o.Tokenizer);
        var config = ModelConfig(o, tok);
        config.Validate(o.Tokenizer);
        var docs = TextCorpus.Read(o.Data);
        var data = TrainingData.Pack(docs.Select(d => d.InputIds ?? tok.Encode(d.Text!)).ToList(), tok.BosId, tok.EosId, o.MaxLength);
        if (data.Count < o.BatchSize)
            throw new AloraException($"{o.Data}: {data.Count} sequences is fewer than one batch of {o.BatchSize}");
        random.manual_seed(o.Seed);
        using var model = new LlamaForCausalLM(config);
        model.InitWeights(0.02);
        var trainable = model.named_parameters().Select(p => (p.name, p.parameter)).ToList();
        var cfg = new TrainConfig
        {
            Lr = o.Lr,
            MaxSteps = o.MaxSteps,
            BatchSize = o.BatchSize,
            MicroBatchSize = Math.Min(o.MicroBatchSize, o.BatchSize),
            MaxLength = o.MaxLength,
            WeightDecay = o.WeightDecay,
            WarmupRatio = o.WarmupRatio,
            Schedule = LrSchedule.Cosine,
            Seed = o.Seed,
            CheckpointEvery = Math.Max(50, o.MaxSteps / 10),
        };
        var runDir = Path.Combine(o.Out, "pretrain-run");
        using var trainer = new Trainer(model, [], trainable, data, cfg, runDir);
        if (o.Resume)
            trainer.TryResume();
        else if (Directory.Exists(runDir))
            throw new AloraException($"{runDir} exists: pass --resume to continue it, or choose another --out");
        var history = trainer.Train(progress);
        var json = JsonSerializer.SerializeToNode(config, HfConfig.Options)!.AsObject();
        ModelLoader.Save(model, o.Out, json);
        foreach (var f in new[] { "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json" })
            if (File.Exists(Path.Combine(o.Tokenizer, f)) && Path.GetFullPath(o.Tokenizer) != Path.GetFullPath(o.Out))
                File.Copy(Path.Combine(o.Tokenizer, f), Path.Combine(o.Out, f), overwrite: true);
        return history;
    }
}
