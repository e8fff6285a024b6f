namespace Alora.Demo;

/// <summary>
/// Word lists for the synthetic general world, all written here by hand (places and countries are
/// invented, so no real-world knowledge can help or hurt a model). Each value is a plain ASCII phrase
/// without apostrophes or periods, so a sentence splits on ". " and a word-level tokenizer sees clean words.
/// </summary>
internal static class WorldLexicon
{
    public static readonly string[] FirstNames =
    [
        "Anna",
        "Ben",
        "Clara",
        "David",
        "Elena",
        "Felix",
        "Greta",
        "Hugo",
        "Ida",
        "Jonas",
        "Karin",
        "Leo",
        "Maja",
        "Nils",
        "Olga",
        "Paul",
        "Rosa",
        "Simon",
        "Tara",
        "Ulf",
        "Vera",
        "Walter",
        "Yara",
        "Adam",
        "Bella",
        "Carl",
        "Dora",
        "Emil",
        "Frida",
        "Gustav",
        "Hanna",
        "Ivan",
        "Julia",
        "Kurt",
        "Lena",
        "Mark",
        "Nora",
        "Oscar",
        "Petra",
        "Rudolf",
        "Sara",
        "Tom",
        "Una",
        "Viktor",
        "Wendy",
        "Xavier",
        "Zoe",
        "Alma",
        "Bruno",
        "Cecilia",
    ];

    public static readonly string[] Surnames =
    [
        "Berg",
        "Lund",
        "Holm",
        "Strand",
        "Falk",
        "Dahl",
        "Brandt",
        "Vogel",
        "Keller",
        "Moreau",
        "Rossi",
        "Novak",
        "Silva",
        "Costa",
        "Weber",
        "Fischer",
        "Marsh",
        "Hill",
        "Ford",
        "Stone",
        "Wood",
        "Bell",
        "Grey",
        "Hart",
        "Lang",
        "Park",
        "Reed",
        "Shaw",
        "Todd",
        "Ward",
        "Young",
        "Blake",
        "Crane",
        "Drake",
        "Frost",
        "Gale",
        "Hale",
        "Kent",
        "Lowe",
        "Moss",
    ];

    public static readonly string[] Cities =
    [
        "Velmora",
        "Tarsk",
        "Ondley",
        "Brisvale",
        "Calder",
        "Dunmere",
        "Elbrook",
        "Farrowby",
        "Glenholt",
        "Harwick",
        "Istra",
        "Jorvale",
        "Kessing",
        "Lowmarsh",
        "Mirefield",
        "Northam",
        "Orwell",
        "Pellam",
        "Quarry",
        "Rhosdale",
        "Saltmere",
        "Thornby",
        "Ulvik",
        "Varden",
        "Westholm",
        "Yarrow",
        "Zennor",
        "Ambergate",
        "Blackwater",
        "Coldhaven",
        "Deepford",
        "Emberton",
        "Fairhaven",
        "Greystock",
        "Highmoor",
        "Ironvale",
        "Juniper",
        "Kingsmere",
        "Larkspur",
        "Millbrook",
    ];

    public static readonly string[] Countries =
    [
        "Norland",
        "Vestria",
        "Kalmoria",
        "Ostovia",
        "Sundara",
        "Belmark",
        "Tessaly",
        "Marovia",
        "Lindor",
        "Caspia",
        "Arvenia",
        "Dralmor",
    ];

    public static readonly string[] Rivers =
    [
        "Osk",
        "Lethen",
        "Amber",
        "Silvane",
        "Rodder",
        "Tamsin",
        "Wendle",
        "Carrow",
        "Mirren",
        "Vasse",
        "Elder",
        "Brannock",
        "Sorrel",
        "Tiven",
        "Galloway",
        "Nessel",
    ];

    public static readonly string[] Landmarks =
    [
        "the Glass Bridge",
        "the Old Clock Tower",
        "the Red Fortress",
        "the Salt Gate",
        "the Green Dome",
        "the Iron Lighthouse",
        "the Stone Market",
        "the Copper Theatre",
        "the Winter Garden",
        "the Tall Windmill",
        "the Silver Fountain",
        "the Blue Pavilion",
        "the Royal Library",
        "the Harbour Wall",
        "the White Cathedral",
        "the Sun Observatory",
        "the Long Canal",
        "the Bell Tower",
        "the Painted Stairs",
        "the Great Arch",
        "the Crystal Hall",
        "the Northern Wall",
        "the Marble Zoo",
        "the Floating Market",
    ];

    public static readonly string[] Jobs =
    [
        "baker",
        "carpenter",
        "nurse",
        "teacher",
        "engineer",
        "farmer",
        "pilot",
        "painter",
        "tailor",
        "plumber",
        "librarian",
        "butcher",
        "gardener",
        "electrician",
        "architect",
        "dentist",
        "journalist",
        "fisherman",
        "mechanic",
        "potter",
        "lawyer",
        "chemist",
        "sailor",
        "miner",
        "cook",
        "barber",
        "clerk",
        "translator",
        "photographer",
        "musician",
    ];

    public static readonly string[] Employers =
    [
        "Northwind Foods",
        "Bluewater Shipping",
        "Redhill Bank",
        "Greenleaf Books",
        "Silverline Railways",
        "Oakwood Furniture",
        "Brightstar Media",
        "Ironbridge Steel",
        "Sunfield Farms",
        "Clearwater Hospital",
        "Highgate School",
        "Stonebrook Builders",
        "Westwind Airlines",
        "Goldcrest Insurance",
        "Maplewood Press",
        "Seaview Hotel",
        "Riverside Bakery",
        "Fairway Motors",
        "Kingsley Textiles",
        "Lakeside Clinic",
        "Pinecone Toys",
        "Harbourline Fisheries",
        "Cobalt Software",
        "Meadow Dairy",
    ];

    public static readonly string[] Hobbies =
    [
        "chess",
        "painting",
        "fishing",
        "gardening",
        "hiking",
        "singing",
        "knitting",
        "cycling",
        "photography",
        "pottery",
        "swimming",
        "dancing",
        "juggling",
        "birdwatching",
        "baking",
        "sailing",
        "climbing",
        "archery",
        "woodcarving",
        "rowing",
        "skating",
        "poetry",
        "astronomy",
        "origami",
    ];

    public static readonly string[] Animals =
    [
        "fox",
        "otter",
        "badger",
        "heron",
        "owl",
        "lynx",
        "beaver",
        "moose",
        "hare",
        "falcon",
        "seal",
        "stork",
        "wolf",
        "bear",
        "deer",
        "eagle",
        "swan",
        "tortoise",
        "lizard",
        "frog",
        "salmon",
        "whale",
        "dolphin",
        "camel",
        "goat",
        "yak",
        "panda",
        "parrot",
        "penguin",
        "hedgehog",
    ];

    public static readonly string[] Colours = ["red", "brown", "grey", "black", "white", "golden", "spotted", "striped", "silver", "orange"];
    public static readonly string[] Habitats = ["forest", "desert", "marsh", "mountains", "grassland", "sea", "lakes", "jungle", "tundra", "caves"];
    public static readonly string[] Foods = ["seeds", "fish", "insects", "grass", "fruit", "meat", "leaves", "roots"];
    public static readonly string[] Sizes = ["tiny", "small", "medium", "large", "huge"];

    public static readonly string[] Objects =
    [
        "kettle",
        "lamp",
        "ladder",
        "mirror",
        "clock",
        "bucket",
        "broom",
        "chair",
        "pillow",
        "basket",
        "hammer",
        "candle",
        "teapot",
        "blanket",
        "shelf",
        "spoon",
        "vase",
        "rug",
        "bench",
        "cup",
        "bowl",
        "drum",
        "fan",
        "kite",
        "lantern",
        "saw",
        "rope",
        "desk",
        "jug",
        "stool",
    ];

    public static readonly string[] Materials =
    [
        "wood",
        "steel",
        "glass",
        "clay",
        "wool",
        "copper",
        "plastic",
        "stone",
        "cotton",
        "brass",
        "bamboo",
        "leather",
    ];
    public static readonly string[] Rooms = ["kitchen", "bedroom", "garage", "attic", "cellar", "hallway", "study", "bathroom"];

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

    public static string WithArticle(string phrase) => "aeiou".Contains(phrase[0], StringComparison.Ordinal) ? "an " + phrase : "a " + phrase;

    public static string Capitalize(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..];
}
