using Alora.Models;
using static TorchSharp.torch;

namespace Alora.Tests;

/// <summary>Small random models built in memory, so the maths tests need no fixture.</summary>
public static class TinyModels
{
    public static LlamaConfig LlamaConfig(int vocab = 97, int hidden = 32, int layers = 2) =>
        new()
        {
            Architectures = ["LlamaForCausalLM"],
            ModelType = "llama",
            VocabSize = vocab,
            HiddenSize = hidden,
            IntermediateSize = 2 * hidden,
            NumHiddenLayers = layers,
            NumAttentionHeads = 4,
            NumKeyValueHeads = 2,
            MaxPositionEmbeddings = 128,
            RmsNormEps = 1e-6,
            RopeTheta = 10000,
            BosTokenId = [1],
            EosTokenId = [2],
        };

    public static LlamaForCausalLM Llama(long seed = 7, int vocab = 97, int hidden = 32, int layers = 2)
    {
        random.manual_seed(seed);
        var m = new LlamaForCausalLM(LlamaConfig(vocab, hidden, layers));
        m.InitWeights(0.1);
        m.eval();
        return m;
    }

    /// <summary>The model of <see cref="Llama"/> written as a HuggingFace folder (config.json, model.safetensors); <paramref name="edit"/> may change its weights first.</summary>
    public static string SaveLlama(string dir, long seed = 7, int vocab = 97, int hidden = 32, int layers = 2, Action<LlamaForCausalLM>? edit = null)
    {
        using var model = Llama(seed, vocab, hidden, layers);
        if (edit is not null)
            using (no_grad())
                edit(model);
        var json = System.Text.Json.JsonSerializer.SerializeToNode(model.LlamaConfig, HfConfig.Options)!.AsObject();
        ModelLoader.Save(model, dir, json);
        return dir;
    }

    /// <summary>Pre-tokenized training data as JSON Lines of input_ids (read as given: no tokenizer needed).</summary>
    public static string WriteIdsJsonl(string path, int count, int len, int vocab = 97, long seed = 5)
    {
        File.WriteAllLines(path, PatternData(count, len, vocab, seed).Select(e => $"{{\"input_ids\": [{string.Join(", ", e.Ids)}]}}"));
        return path;
    }

    /// <summary>Random token ids [b, t] from a seeded generator.</summary>
    public static Tensor Ids(int b, int t, int vocab = 97, long seed = 3)
    {
        random.manual_seed(seed);
        return randint(3, vocab, [b, t], ScalarType.Int64);
    }

    /// <summary>Sequences with a learnable pattern (each token is the previous + 1 mod a small range).</summary>
    public static List<Alora.Data.TrainingExample> PatternData(int count, int len, int vocab = 97, long seed = 5)
    {
        var rng = new Random((int)seed);
        var list = new List<Alora.Data.TrainingExample>();
        for (int i = 0; i < count; i++)
        {
            int start = rng.Next(3, 40);
            var ids = Enumerable.Range(0, len).Select(j => 3 + (start + j) % 40).ToArray();
            list.Add(new Alora.Data.TrainingExample(ids, ids.Select((_, j) => j > 0).ToArray()));
        }
        return list;
    }
}
