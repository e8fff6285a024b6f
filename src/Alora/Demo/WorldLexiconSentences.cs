namespace Alora.Demo;

// Fragments of the everyday, health and reading sentences of the general text.
internal static partial class WorldLexicon
{
    // Everyday sentences: "{time}, {subject} {activity} {place}." Subjects are singular so every verb agrees.
    public static readonly string[] Times =
    [
        "In the morning",
        "In the evening",
        "At noon",
        "On Sunday",
        "Every winter",
        "After dinner",
        "Before breakfast",
        "Late at night",
        "On rainy days",
        "During the summer",
        "Once a week",
        "On most weekends",
    ];

    public static readonly string[] Subjects =
    [
        "the old man",
        "the young woman",
        "my neighbour",
        "the teacher",
        "our family",
        "the farmer",
        "a tired student",
        "the small boy",
        "the little girl",
        "the shop owner",
        "my grandmother",
        "the bus driver",
        "my uncle",
        "her cousin",
    ];

    public static readonly string[] Activities =
    [
        "reads a long book",
        "drinks hot tea",
        "walks the dog",
        "cooks a simple soup",
        "cleans the windows",
        "plays cards",
        "writes a letter",
        "listens to the radio",
        "waters the plants",
        "visits the market",
        "bakes fresh bread",
        "watches the birds",
        "repairs an old bicycle",
        "sings a quiet song",
        "paints the fence",
        "sweeps the floor",
        "buys apples",
        "feeds the cat",
        "takes a short nap",
        "calls an old friend",
        "folds the laundry",
        "plants tomatoes",
    ];

    public static readonly string[] Places =
    [
        "at home",
        "in the garden",
        "near the station",
        "by the window",
        "in the park",
        "at the kitchen table",
        "on the porch",
        "in the village",
        "behind the school",
        "next to the bakery",
        "under the big tree",
        "on the balcony",
    ];

    // Lay health sentences put the everyday words of the domain answers (cough, rash, blood pressure...) into
    // general text, so the base model has trained embeddings for them; the domain's technical words stay new.
    public static readonly string[] HealthFrames =
    [
        "{subj} went to the doctor about {h}.",
        "{subj} stayed at home with {h}.",
        "{time}, {subj} complained of {h}.",
        "The doctor told {subj} to rest because of {h}.",
    ];

    // Reading sentences name the domain's terms (class names, targets, suffixes, question words) in random
    // pairings that teach no rule. A word-level model must see a token in pretraining to have a trained
    // embedding: a demo pilot with these terms absent from general text left every domain-only token with
    // nearly the same (untrained) embedding, and a rank-8 q/v adapter could not learn the task at all.
    public static readonly string[] ReadingFrames =
    [
        "{time}, {subj} read an article about {t}.",
        "{subj} heard a radio programme about {t}.",
        "{subj} looked up {t} in an old encyclopedia.",
        "{time}, {subj} asked the teacher about {t}.",
    ];

    public static readonly string[] ExtraComplaints = ["a sore throat", "a cold", "back pain", "a fever", "a sprained wrist", "tired eyes"];
}
