using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Alora.IO;
using Alora.Models;
using CsCheck;

namespace Alora.Tests.Properties;

/// <summary>A config.json file to read and what must come of it (the typed values, or null: must fail).</summary>
internal sealed record ConfigFileCase(string Why, byte[] Bytes, SortedDictionary<string, string>? Expected)
{
    public override string ToString() => $"{Why}: {(Expected is null ? "must fail" : "must parse")}: {Encoding.UTF8.GetString(Bytes)}";
}

/// <summary>
/// config.json for Llama, GPT-J and GPT-2: generated configs parse to exactly their values (defaults filling what
/// is absent); single-field mutations (wrong types, missing fields, zero, negative, huge and non-finite numbers,
/// unsupported names) either keep the config valid, and then parse to the changed values, or are refused with an
/// <see cref="AloraException"/> naming the file. Replaying a failure: see <see cref="PropertyRun"/>.
/// </summary>
public sealed class HfConfigPropertyTests : IDisposable
{
    /// <summary>A seed printed by a failing run, to replay that case first; null for random cases only.</summary>
    const string? Seed = null;

    readonly CaseDir _dir = new();

    public void Dispose() => _dir.Dispose();

    static HfConfig Parse(string path) => HfConfig.ForModel(path, JsonFile.Read(path));

    enum Kind
    {
        Required,
        Nullable,
        Defaulted,
        Positive,
        Activation,
    }

    static readonly Dictionary<string, Dictionary<string, Kind>> Fields = new()
    {
        ["llama"] = new()
        {
            ["vocab_size"] = Kind.Required,
            ["hidden_size"] = Kind.Required,
            ["intermediate_size"] = Kind.Required,
            ["num_hidden_layers"] = Kind.Required,
            ["num_attention_heads"] = Kind.Required,
            ["num_key_value_heads"] = Kind.Nullable,
            ["head_dim"] = Kind.Nullable,
            ["max_position_embeddings"] = Kind.Defaulted,
            ["rms_norm_eps"] = Kind.Positive,
            ["rope_theta"] = Kind.Positive,
            ["hidden_act"] = Kind.Activation,
        },
        ["gptj"] = new()
        {
            ["vocab_size"] = Kind.Required,
            ["n_embd"] = Kind.Required,
            ["n_layer"] = Kind.Required,
            ["n_head"] = Kind.Required,
            ["rotary_dim"] = Kind.Nullable,
            ["n_inner"] = Kind.Nullable,
            ["n_positions"] = Kind.Defaulted,
            ["layer_norm_epsilon"] = Kind.Positive,
            ["activation_function"] = Kind.Activation,
        },
        ["gpt2"] = new()
        {
            ["vocab_size"] = Kind.Required,
            ["n_embd"] = Kind.Required,
            ["n_layer"] = Kind.Required,
            ["n_head"] = Kind.Required,
            ["n_inner"] = Kind.Nullable,
            ["n_positions"] = Kind.Defaulted,
            ["layer_norm_epsilon"] = Kind.Positive,
            ["activation_function"] = Kind.Activation,
        },
    };

    // Values no integer size field may hold: not positive, past int, not integers, not numbers.
    static readonly string[] BadInts = ["0", "-1", "-2147483648", "2147483648", "1e400", "1.5", "1e2", "\"abc\"", "\"\"", "true", "[]", "{}", "[4]"];
    static readonly string[] BadPositive =
    [
        "0",
        "-1e-6",
        "\"NaN\"",
        "\"Infinity\"",
        "\"-Infinity\"",
        "1e400",
        "-1e400",
        "\"abc\"",
        "true",
        "[]",
        "{}",
        "null",
    ];
    static readonly string[] BadActivation = ["\"tanh\"", "\"SiLU\"", "\"\"", "1", "null", "[\"silu\"]"];
    static readonly string[] BadTokenIds = ["[1, \"x\"]", "1.5", "2147483648", "\"x\"", "{}", "[[1]]"];
    static readonly string[] BadRope =
    [
        "{\"type\": \"yarn\", \"factor\": 2}",
        "{\"rope_type\": \"llama3\", \"factor\": 2, \"low_freq_factor\": 2, \"high_freq_factor\": 2}",
        "{\"type\": \"linear\", \"factor\": 0}",
        "\"linear\"",
        "{\"type\": \"linear\", \"factor\": \"Infinity\"}",
        "[]",
        "{\"rope_type\": \"llama3\", \"factor\": -1}",
    ];
    static readonly string[] BadArchitectures = ["\"LlamaForCausalLM\"", "[5]", "[\"BertModel\"]", "{}", "[null, \"LlamaForCausalLM\"]"];

    static int Int(ConfigCase c, string key) => int.Parse(c.Fields.First(f => f.Key == key).Json, CultureInfo.InvariantCulture);

    static SortedDictionary<string, string> With(SortedDictionary<string, string> d, string key, string value) =>
        new(d, StringComparer.Ordinal) { [key] = value };

    /// <summary>The case after setting (or, with null, removing) one field, and what must come of it.</summary>
    static ConfigCase Set(ConfigCase c, string key, string? json, SortedDictionary<string, string>? expected, string why)
    {
        var fields = c.Fields.Where(f => f.Key != key).ToList();
        if (json is not null)
            fields.Insert(Math.Min(c.Fields.FindIndex(f => f.Key == key) is var i and >= 0 ? i : fields.Count, fields.Count), (key, json));
        return c with { Fields = fields, Expected = expected, Why = why };
    }

    /// <summary>One field changed, with the outcome the architecture's rules give.</summary>
    static Gen<ConfigCase> MutateField(ConfigCase c) =>
        from key in Gen.OneOf(Fields[c.Arch].Keys.ToArray())
        from pick in Gen.Int[0, 1000]
        from delete in Gen.Int[0, 3]
        select MutateField(c, key, pick, delete == 0);

    static ConfigCase MutateField(ConfigCase c, string key, int pick, bool delete)
    {
        var e = c.Expected!;
        var kind = Fields[c.Arch][key];
        var (heads, dh) =
            c.Arch == "llama"
                ? (int.Parse(e["heads"], CultureInfo.InvariantCulture), int.Parse(e["dh"], CultureInfo.InvariantCulture))
                : (
                    int.Parse(e["heads"], CultureInfo.InvariantCulture),
                    int.Parse(e["embd"], CultureInfo.InvariantCulture) / int.Parse(e["heads"], CultureInfo.InvariantCulture)
                );
        if (delete || (kind == Kind.Nullable && pick % 5 == 0))
        {
            var json = delete ? null : "null";
            var why = delete ? $"{key} removed" : $"{key} null";
            return (kind, key) switch
            {
                (Kind.Required, _) => Set(c, key, json, null, why),
                (Kind.Defaulted, _) when !delete => Set(c, key, json, null, why), // null is no int
                (_, "num_key_value_heads") => Set(c, key, json, With(e, "kv", e["heads"]), why),
                (_, "head_dim") => HeadDimDefault(c, json, why),
                (_, "rotary_dim") => Set(c, key, json, With(e, "rotary", dh.ToString(CultureInfo.InvariantCulture)), why),
                (_, "n_inner") => Set(c, key, json, With(e, "inner", "null"), why),
                (_, "max_position_embeddings") => Set(c, key, json, With(e, "maxpos", "2048"), why),
                (_, "n_positions") => Set(c, key, json, With(e, "pos", c.Arch == "gpt2" ? "1024" : "2048"), why),
                (_, "rms_norm_eps") => Set(c, key, json, With(e, "eps", "1E-06"), why),
                (_, "layer_norm_epsilon") => Set(c, key, json, With(e, "eps", "1E-05"), why),
                (_, "rope_theta") => Set(c, key, json, With(e, "theta", "10000"), why),
                (_, "hidden_act") => Set(c, key, json, delete ? With(e, "act", "silu") : null, why),
                (_, "activation_function") => Set(c, key, json, delete ? With(e, "act", "gelu_new") : null, why),
                _ => throw new InvalidOperationException(key),
            };
        }
        switch (kind)
        {
            case Kind.Positive when pick % 4 == 0:
                // Other positive finite numbers are fine, written as a number or (read from string) as text.
                var (text, value) = (pick / 4 % 3) switch
                {
                    0 => ("5e-324", 5e-324),
                    1 => ("\"1e-5\"", 1e-5),
                    _ => ("123.5", 123.5),
                };
                var field = key switch
                {
                    "rope_theta" => "theta",
                    _ => "eps",
                };
                return Set(c, key, text, With(e, field, value.ToString("R", CultureInfo.InvariantCulture)), $"{key} = {text}");
            case Kind.Positive:
                return Set(c, key, BadPositive[pick % BadPositive.Length], null, $"{key} = {BadPositive[pick % BadPositive.Length]}");
            case Kind.Activation when pick % 3 == 0:
                var act = ConfigCases.Activations[pick / 3 % ConfigCases.Activations.Length];
                return Set(c, key, "\"" + act + "\"", With(e, "act", act), $"{key} = {act}");
            case Kind.Activation:
                return Set(c, key, BadActivation[pick % BadActivation.Length], null, $"{key} = {BadActivation[pick % BadActivation.Length]}");
            default:
                if (pick % 6 == 0 && c.Fields.Any(f => f.Key == key))
                    return Set(c, key, "\"" + Int(c, key).ToString(CultureInfo.InvariantCulture) + "\"", e, $"{key} as a numeric string"); // the binder reads numbers from strings
                var bad = key switch
                {
                    "num_key_value_heads" when pick % 4 == 1 => (heads + 1).ToString(CultureInfo.InvariantCulture), // does not divide the heads
                    "rotary_dim" when pick % 4 == 1 => (dh + 1).ToString(CultureInfo.InvariantCulture), // odd, or past the head size
                    "rotary_dim" when pick % 4 == 2 => (dh + 2).ToString(CultureInfo.InvariantCulture),
                    _ => BadInts[pick % BadInts.Length],
                };
                return Set(c, key, bad, null, $"{key} = {bad}");
        }
    }

    /// <summary>Without head_dim the head size is hidden_size / heads, which must be positive and even.</summary>
    static ConfigCase HeadDimDefault(ConfigCase c, string? json, string why)
    {
        var e = c.Expected!;
        var dh = int.Parse(e["hidden"], CultureInfo.InvariantCulture) / int.Parse(e["heads"], CultureInfo.InvariantCulture);
        return Set(c, "head_dim", json, dh > 0 && dh % 2 == 0 ? With(e, "dh", dh.ToString(CultureInfo.InvariantCulture)) : null, why);
    }

    /// <summary>Changes to the file as a whole: its architecture, token ids, rope scaling, keys, bytes.</summary>
    static Gen<ConfigFileCase> Mutate(ConfigCase c) =>
        from kind in Gen.Int[0, 9]
        from pick in Gen.Int[0, 1000]
        from layout in Gen.Int[0, 3]
        from cut in Gen.Int[0, int.MaxValue]
        from bad in PropertyRun.InvalidUtf8
        from field in MutateField(c)
        select kind switch
        {
            0 or 1 or 2 => File(c, layout),
            3 or 4 => File(field, layout),
            5 => Architecture(c, pick, layout),
            6 => File(
                pick % 2 == 0 || c.Arch != "llama"
                    ? Set(c, "eos_token_id", BadTokenIds[pick % BadTokenIds.Length], null, "bad eos_token_id")
                    : Set(c, "rope_scaling", BadRope[pick % BadRope.Length], null, "bad rope_scaling"),
                layout
            ),
            // A key twice: which value is meant cannot be known.
            7 => File(c with { Fields = [.. c.Fields, c.Fields[pick % c.Fields.Count]], Expected = null, Why = "a key twice" }, layout),
            8 => Bytes(c, layout, pick, cut, bad),
            _ => new ConfigFileCase("a BOM", [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(ConfigCases.Text(c.Fields, layout))], c.Expected),
        };

    static ConfigFileCase File(ConfigCase c, int layout) => new(c.Why, Encoding.UTF8.GetBytes(ConfigCases.Text(c.Fields, layout)), c.Expected);

    static ConfigFileCase Architecture(ConfigCase c, int pick, int layout)
    {
        if (pick % 3 == 0)
        {
            // No architectures: the model_type decides, and only GPT-2's generated configs carry one.
            var none = Set(c, "architectures", pick % 2 == 0 ? "[]" : "null", c.Arch == "gpt2" ? c.Expected : null, "no architectures");
            return File(none, layout);
        }
        return File(Set(c, "architectures", BadArchitectures[pick % BadArchitectures.Length], null, "bad architectures"), layout);
    }

    /// <summary>Byte-level damage: an invalid UTF-8 sequence in a string, an unpaired surrogate escape, or a cut before the closing brace.</summary>
    static ConfigFileCase Bytes(ConfigCase c, int layout, int pick, int cut, byte[] bad)
    {
        switch (pick % 3)
        {
            case 0:
                var text = Encoding.UTF8.GetBytes(ConfigCases.Text([.. c.Fields, ("x_note", "\"a\u2603b\"")], layout));
                var at = text.AsSpan().IndexOf("\u2603"u8);
                return new("invalid UTF-8", [.. text[..at], .. bad, .. text[(at + 3)..]], null);
            case 1:
                return File(
                    c with
                    {
                        Fields = [.. c.Fields, ("x_note", "\"a\\udc00\"")],
                        Expected = null,
                        Why = "unpaired surrogate escape",
                    },
                    layout
                );
            default:
                var full = Encoding.UTF8.GetBytes(ConfigCases.Text(c.Fields, layout));
                return new("cut", full[..(cut % Array.LastIndexOf(full, (byte)'}'))], null);
        }
    }

    [Fact]
    public void GeneratedAndMutatedConfigsParseExactlyOrFail() =>
        PropertyRun.Check(
            from c in ConfigCases.Any
            from shuffled in Gen.Shuffle(c.Fields.ToArray())
            from m in Mutate(c with { Fields = [.. shuffled] })
            select m,
            m => PropertyRun.WithFile(_dir, ".json", m.Bytes, path =>
                {
                    var (config, error) = PropertyRun.Outcome(path, () => Parse(path));
                    if (m.Expected is null)
                    {
                        if (config is not null)
                            throw new InvalidOperationException(
                                $"an invalid config was accepted ({m.Why}): {string.Join(", ", ConfigCases.Describe(config))}"
                            );
                        return;
                    }
                    if (config is null)
                        throw new InvalidOperationException($"a valid config was refused ({m.Why}): {error}");
                    Assert.Equal(m.Expected, ConfigCases.Describe(config));
                }),
            iter: 15000,
            Seed,
            m => m.ToString()
        );

    static readonly string[] Keys =
    [
        .. Fields.Values.SelectMany(f => f.Keys).Distinct(),
        "architectures",
        "model_type",
        "rope_scaling",
        "eos_token_id",
        "bos_token_id",
        "tie_word_embeddings",
        "x",
    ];

    static readonly Gen<JsonNode?> RandomValue = Gen.Recursive<JsonNode?>(
        (depth, self) =>
        {
            var leaf = Gen.OneOf<JsonNode?>(
                Gen.Const((JsonNode?)null),
                Gen.Int[-4, 70].Select(v => (JsonNode?)JsonValue.Create(v)),
                Gen.OneOf(int.MaxValue + 1L, long.MaxValue, -1L << 40).Select(v => (JsonNode?)JsonValue.Create(v)),
                Gen.Double.Select(v => double.IsFinite(v) ? (JsonNode?)JsonValue.Create(v) : null),
                Gen.OneOf(
                        "LlamaForCausalLM",
                        "GPTJForCausalLM",
                        "GPT2LMHeadModel",
                        "llama",
                        "gpt2",
                        "gptj",
                        "silu",
                        "NaN",
                        "Infinity",
                        "12",
                        "linear",
                        "llama3",
                        ""
                    )
                    .Select(v => (JsonNode?)JsonValue.Create(v)),
                Gen.Bool.Select(v => (JsonNode?)JsonValue.Create(v))
            );
            if (depth >= 3)
                return leaf;
            var obj = Gen.Select(Gen.OneOf(Keys), self)
                .Array[0, 5]
                .Select(kvs =>
                {
                    var o = new JsonObject();
                    foreach (var (k, v) in kvs)
                        o[k] = v;
                    return (JsonNode?)o;
                });
            return Gen.Frequency((4, leaf), (1, obj), (1, self.Array[0, 3].Select(a => (JsonNode?)new JsonArray(a))));
        }
    );

    /// <summary>Random objects over the real field names: parse or fail cleanly; what parses obeys the rules.</summary>
    [Fact]
    public void RandomConfigsNeverCrash() =>
        PropertyRun.Check(
            Gen.Select(
                Gen.Select(Gen.OneOf(Keys), RandomValue).Array[0, 14],
                Gen.OneOf("llama", "gptj", "gpt2", "LlamaForCausalLM", "GPTJForCausalLM", "GPT2LMHeadModel")
            ),
            t =>
            {
                var (fields, arch) = t;
                var isClassName = arch.Contains("For", StringComparison.Ordinal) || arch.Contains("Model", StringComparison.Ordinal);
                var o = new JsonObject { [isClassName ? "architectures" : "model_type"] = isClassName ? new JsonArray(arch) : arch };
                foreach (var (k, v) in fields)
                    o[k] = v?.DeepClone(); // later fields replace earlier ones, the architecture too
                PropertyRun.WithFile(_dir, ".json", Encoding.UTF8.GetBytes(o.ToJsonString()), path =>
                {
                    if (PropertyRun.Outcome(path, () => Parse(path)).Value is not { } config)
                        return;
                    var d = ConfigCases.Describe(config);
                    foreach (var size in new[] { "vocab_size", "hidden", "inter", "layers", "heads", "kv", "dh", "embd", "maxpos", "pos", "rotary" })
                        if (d.TryGetValue(size, out var v))
                            Assert.True(int.Parse(v, CultureInfo.InvariantCulture) > 0, $"{size} = {v}");
                    var eps = double.Parse(d["eps"], CultureInfo.InvariantCulture);
                    Assert.True(double.IsFinite(eps) && eps > 0, $"eps = {eps}");
                    Assert.Contains(d["act"], ConfigCases.Activations);
                });
            },
            iter: 10000,
            Seed
        );
}
