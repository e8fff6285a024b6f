using System.Globalization;
using Alora.Models;
using CsCheck;

namespace Alora.Tests.Properties;

/// <summary>
/// A generated config.json: its fields as JSON text, and the values a correct reader must give (as the
/// architecture's defaults fill what is absent), or null when the config must be refused.
/// </summary>
internal sealed record ConfigCase(
    string Arch,
    List<(string Key, string Json)> Fields,
    SortedDictionary<string, string>? Expected,
    string Why = "valid"
)
{
    public override string ToString() =>
        $"{Why}: {(Expected is null ? "must fail" : "must parse")}: {{{string.Join(", ", Fields.Select(f => $"\"{f.Key}\": {f.Json}"))}}}";
}

/// <summary>Valid configurations of the three architectures, with values chosen so that every rule holds.</summary>
internal static class ConfigCases
{
    static string I(long v) => v.ToString(CultureInfo.InvariantCulture);

    static string D(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    public static readonly string[] Activations = ["silu", "swish", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "gelu", "relu"];

    /// <summary>What the reader's typed config says, as text to compare: one entry per value the models use.</summary>
    public static SortedDictionary<string, string> Describe(HfConfig c)
    {
        var d = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["vocab_size"] = I(c.VocabSize),
            ["bos"] = c.BosTokenId is null ? "null" : string.Join(",", c.BosTokenId),
            ["eos"] = c.EosTokenId is null ? "null" : string.Join(",", c.EosTokenId),
            ["tie"] = c.TieWordEmbeddings?.ToString() ?? "null",
        };
        switch (c)
        {
            case LlamaConfig l:
                d["arch"] = "llama";
                d["hidden"] = I(l.HiddenSize);
                d["inter"] = I(l.IntermediateSize);
                d["layers"] = I(l.NumHiddenLayers);
                d["heads"] = I(l.NumAttentionHeads);
                d["kv"] = I(l.KvHeads);
                d["dh"] = I(l.Dh);
                d["eps"] = D(l.RmsNormEps);
                d["theta"] = D(l.RopeTheta);
                d["maxpos"] = I(l.MaxPositionEmbeddings);
                d["act"] = l.HiddenAct;
                d["rope"] = l.RopeScaling is { } r
                    ? $"{r.Kind} {D(r.Factor)} {D(r.LowFreqFactor)} {D(r.HighFreqFactor)} {I(r.OriginalMaxPositionEmbeddings)}"
                    : "none";
                break;
            case GptJConfig j:
                d["arch"] = "gptj";
                d["embd"] = I(j.NEmbd);
                d["layers"] = I(j.NLayer);
                d["heads"] = I(j.NHead);
                d["pos"] = I(j.NPositions);
                d["inner"] = j.NInner is { } ji ? I(ji) : "null";
                d["rotary"] = I(j.Rotary);
                d["eps"] = D(j.LayerNormEpsilon);
                d["act"] = j.ActivationFunction;
                break;
            case Gpt2Config g:
                d["arch"] = "gpt2";
                d["embd"] = I(g.NEmbd);
                d["layers"] = I(g.NLayer);
                d["heads"] = I(g.NHead);
                d["pos"] = I(g.NPositions);
                d["inner"] = g.NInner is { } gi ? I(gi) : "null";
                d["eps"] = D(g.LayerNormEpsilon);
                d["act"] = g.ActivationFunction;
                break;
        }
        return d;
    }

    static readonly Gen<double> Eps = Gen.Double[1e-12, 1e-2];

    /// <summary>Token ids: absent, null, a number or a list of numbers.</summary>
    static readonly Gen<(string? Json, string Expected)> TokenIds = Gen.OneOf(
        Gen.Const<(string?, string)>((null, "null")),
        Gen.Const<(string?, string)>(("null", "null")),
        Gen.Int[0, 100_000].Select(i => ((string?)I(i), I(i))),
        Gen.Int[0, 100_000].Array[1, 3].Select(a => ((string?)("[" + string.Join(", ", a) + "]"), string.Join(",", a)))
    );

    /// <summary>Fields the readers ignore (transformers writes many), with arbitrary values.</summary>
    static readonly Gen<(string, string)[]> Extras = Gen.Select(
            Gen.OneOf("initializer_range", "use_cache", "x_note", "task_specific_params", "_name_or_path", "attention_dropout"),
            Gen.OneOf("0.02", "true", "null", "\"text\"", "{\"text-generation\": {\"do_sample\": true}}", "[1, 2.5, \"x\"]")
        )
        .Array[0, 3]
        .Select(a => a.DistinctBy(x => x.Item1).ToArray());

    public static readonly Gen<ConfigCase> Llama =
        from heads in Gen.Int[1, 8]
        from kvDivisor in Gen.OneOf(Enumerable.Range(1, 8).ToArray())
        from headDim in Gen.Int[1, 8].Select(h => 2 * h)
        from explicitHeadDim in Gen.Bool
        from hiddenIfExplicit in Gen.Int[1, 64]
        from sizes in Gen.Select(Gen.Int[1, 128], Gen.Int[1, 4], Gen.Int[1, 100_000], Gen.Int[1, 1 << 20])
        from eps in Eps
        from theta in Gen.Double[1, 1e6]
        from act in Gen.OneOf(Activations)
        from rope in Gen.Int[0, 3]
        from factors in Gen.Select(Gen.Double[1, 16], Gen.Double[0.5, 2], Gen.Double[2.5, 8], Gen.Int[1, 8192])
        from present in Gen.Bool.Array[6]
        from bos in TokenIds
        from eos in TokenIds
        from extras in Extras
        let kv = heads % kvDivisor == 0 ? heads / kvDivisor : heads
        let hidden = explicitHeadDim ? hiddenIfExplicit : heads * headDim
        select Build(
            "llama",
            [
                ("architectures", "[\"LlamaForCausalLM\"]"),
                ("vocab_size", I(sizes.Item3)),
                ("hidden_size", I(hidden)),
                ("intermediate_size", I(sizes.Item1)),
                ("num_hidden_layers", I(sizes.Item2)),
                ("num_attention_heads", I(heads)),
                (present[0] ? "num_key_value_heads" : null, I(kv)),
                (explicitHeadDim ? "head_dim" : null, I(headDim)),
                (present[1] ? "rms_norm_eps" : null, D(eps)),
                (present[2] ? "rope_theta" : null, D(theta)),
                (present[3] ? "max_position_embeddings" : null, I(sizes.Item4)),
                (present[4] ? "hidden_act" : null, "\"" + act + "\""),
                (
                    rope == 0 ? null : "rope_scaling",
                    rope switch
                    {
                        1 => "null",
                        2 => $"{{\"type\": \"linear\", \"factor\": {D(factors.Item1)}}}",
                        _ =>
                            $"{{\"rope_type\": \"llama3\", \"factor\": {D(factors.Item1)}, \"low_freq_factor\": {D(factors.Item2)}, \"high_freq_factor\": {D(factors.Item3)}, \"original_max_position_embeddings\": {I(factors.Item4)}}}",
                    }
                ),
                (present[5] ? "tie_word_embeddings" : null, "false"),
                (bos.Json is null ? null : "bos_token_id", bos.Json ?? ""),
                (eos.Json is null ? null : "eos_token_id", eos.Json ?? ""),
                .. extras.Select(e => ((string?)e.Item1, e.Item2)),
            ],
            new()
            {
                ["arch"] = "llama",
                ["vocab_size"] = I(sizes.Item3),
                ["hidden"] = I(hidden),
                ["inter"] = I(sizes.Item1),
                ["layers"] = I(sizes.Item2),
                ["heads"] = I(heads),
                ["kv"] = I(present[0] ? kv : heads),
                ["dh"] = I(explicitHeadDim ? headDim : hidden / heads),
                ["eps"] = D(present[1] ? eps : 1e-6),
                ["theta"] = D(present[2] ? theta : 10000.0),
                ["maxpos"] = I(present[3] ? sizes.Item4 : 2048),
                ["act"] = present[4] ? act : "silu",
                ["tie"] = present[5] ? "False" : "null",
                ["bos"] = bos.Expected,
                ["eos"] = eos.Expected,
                ["rope"] = rope switch
                {
                    0 or 1 => "none",
                    2 => $"linear {D(factors.Item1)} 1 4 8192",
                    _ => $"llama3 {D(factors.Item1)} {D(factors.Item2)} {D(factors.Item3)} {I(factors.Item4)}",
                },
            }
        );

    public static readonly Gen<ConfigCase> GptJ =
        from heads in Gen.Int[1, 8]
        from headDim in Gen.Int[1, 8].Select(h => 2 * h)
        from rotary in Gen.Int[1, 8].Select(r => 2 * r)
        from sizes in Gen.Select(Gen.Int[1, 4], Gen.Int[1, 100_000], Gen.Int[1, 4096], Gen.Int[1, 256])
        from eps in Eps
        from act in Gen.OneOf(Activations)
        from present in Gen.Bool.Array[5]
        from eos in TokenIds
        from extras in Extras
        let rot = Math.Min(rotary, headDim)
        select Build(
            "gptj",
            [
                ("architectures", "[\"GPTJForCausalLM\"]"),
                ("vocab_size", I(sizes.Item2)),
                ("n_embd", I(heads * headDim)),
                ("n_layer", I(sizes.Item1)),
                ("n_head", I(heads)),
                (present[0] ? "rotary_dim" : null, I(rot)),
                (present[1] ? "n_positions" : null, I(sizes.Item3)),
                (present[2] ? "n_inner" : null, I(sizes.Item4)),
                (present[3] ? "layer_norm_epsilon" : null, D(eps)),
                (present[4] ? "activation_function" : null, "\"" + act + "\""),
                (eos.Json is null ? null : "eos_token_id", eos.Json ?? ""),
                .. extras.Select(e => ((string?)e.Item1, e.Item2)),
            ],
            new()
            {
                ["arch"] = "gptj",
                ["vocab_size"] = I(sizes.Item2),
                ["embd"] = I(heads * headDim),
                ["layers"] = I(sizes.Item1),
                ["heads"] = I(heads),
                ["rotary"] = I(present[0] ? rot : headDim),
                ["pos"] = I(present[1] ? sizes.Item3 : 2048),
                ["inner"] = present[2] ? I(sizes.Item4) : "null",
                ["eps"] = D(present[3] ? eps : 1e-5),
                ["act"] = present[4] ? act : "gelu_new",
                ["bos"] = "null",
                ["eos"] = eos.Expected,
                ["tie"] = "null",
            }
        );

    public static readonly Gen<ConfigCase> Gpt2 =
        from heads in Gen.Int[1, 8]
        from headDim in Gen.Int[1, 16]
        from sizes in Gen.Select(Gen.Int[1, 4], Gen.Int[1, 100_000], Gen.Int[1, 4096], Gen.Int[1, 256])
        from eps in Eps
        from act in Gen.OneOf(Activations)
        from present in Gen.Bool.Array[4]
        from bos in TokenIds
        from extras in Extras
        select Build(
            "gpt2",
            [
                (present[0] ? "architectures" : null, "[\"GPT2LMHeadModel\"]"),
                ("model_type", "\"gpt2\""),
                ("vocab_size", I(sizes.Item2)),
                ("n_embd", I(heads * headDim)),
                ("n_layer", I(sizes.Item1)),
                ("n_head", I(heads)),
                (present[1] ? "n_positions" : null, I(sizes.Item3)),
                (present[2] ? "n_inner" : null, I(sizes.Item4)),
                (present[3] ? "layer_norm_epsilon" : null, D(eps)),
                ("activation_function", "\"" + act + "\""),
                (bos.Json is null ? null : "bos_token_id", bos.Json ?? ""),
                .. extras.Select(e => ((string?)e.Item1, e.Item2)),
            ],
            new()
            {
                ["arch"] = "gpt2",
                ["vocab_size"] = I(sizes.Item2),
                ["embd"] = I(heads * headDim),
                ["layers"] = I(sizes.Item1),
                ["heads"] = I(heads),
                ["pos"] = I(present[1] ? sizes.Item3 : 1024),
                ["inner"] = present[2] ? I(sizes.Item4) : "null",
                ["eps"] = D(present[3] ? eps : 1e-5),
                ["act"] = act,
                ["bos"] = bos.Expected,
                ["eos"] = "null",
                ["tie"] = "null",
            }
        );

    public static readonly Gen<ConfigCase> Any = Gen.OneOf(Llama, GptJ, Gpt2);

    static ConfigCase Build(string arch, (string? Key, string Json)[] fields, SortedDictionary<string, string> expected) =>
        new(arch, fields.Where(f => f.Key is not null).Select(f => (f.Key!, f.Json)).ToList(), expected);

    /// <summary>The JSON text, with the fields in the given order and one of several layouts (compact, indented, commented, trailing comma).</summary>
    public static string Text(IEnumerable<(string Key, string Json)> fields, int layout) =>
        layout switch
        {
            0 => "{" + string.Join(",", fields.Select(f => $"\"{f.Key}\":{f.Json}")) + "}",
            1 => "{\n  " + string.Join(",\n  ", fields.Select(f => $"\"{f.Key}\": {f.Json}")) + "\n}\n",
            2 => "// written by hand\n{\n" + string.Join("", fields.Select(f => $"  \"{f.Key}\": {f.Json}, /* note */\n")) + "}",
            _ => "\t{ " + string.Join(" ,\r\n", fields.Select(f => $"\"{f.Key}\" : {f.Json}")) + " }  ",
        };
}
