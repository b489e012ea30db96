//! The safety vocabulary, accent-folded and lower-case. A term matches whole words; a term
//! ending in `*` is a stem and matches any word that starts with it (`allagat*` covers
//! allagato, allagata, allagati). Italian, Spanish, French and English are complete; German,
//! Portuguese, Dutch, Romanian, Polish, Catalan and Turkish carry the commonest words, because
//! a gas smell reported in any language is still a gas smell.

use super::Hazard::{self, *};

/// Phrases that mean danger on their own.
#[rustfmt::skip]
pub const ALARMS: &[(&str, Hazard)] = &[
    // gas
    ("odore di gas", Gas), ("odore del gas", Gas), ("puzza di gas", Gas), ("sa di gas", Gas), ("sento gas", Gas), ("c'e gas", Gas), ("odore gas", Gas),
    ("olor a gas", Gas), ("olor de gas", Gas), ("huele a gas", Gas), ("peste a gas", Gas), ("apesta a gas", Gas),
    ("odeur de gaz", Gas), ("odeur du gaz", Gas), ("odeur de gas", Gas), ("sent le gaz", Gas), ("sentait le gaz", Gas), ("ca sent le gaz", Gas),
    ("gas smell", Gas), ("smell gas", Gas), ("smelt gas", Gas), ("smelled gas", Gas), ("smelling gas", Gas),
    ("rotten egg", Gas), ("rotten eggs", Gas), ("uova marce", Gas), ("uovo marcio", Gas), ("huevo podrido", Gas), ("huevos podridos", Gas), ("oeuf pourri", Gas), ("oeufs pourris", Gas),
    ("gasgeruch", Gas), ("riecht nach gas", Gas), ("cheiro a gas", Gas), ("cheiro de gas", Gas), ("gaslucht", Gas), ("ruikt naar gas", Gas), ("miroase a gaz", Gas), ("zapach gazu", Gas), ("czuc gaz", Gas), ("gaz kokusu", Gas), ("olor de gas", Gas), ("fa olor de gas", Gas),
    // sparks, fire, burning
    ("spark", ElectricalFire), ("sparks", ElectricalFire), ("sparking", ElectricalFire), ("sparked", ElectricalFire), ("arcing", ElectricalFire),
    ("scintill*", ElectricalFire), ("chispa", ElectricalFire), ("chispas", ElectricalFire), ("chispea*", ElectricalFire), ("chispaz*", ElectricalFire), ("chisporrote*", ElectricalFire), ("fogonaz*", ElectricalFire),
    ("etincel*", ElectricalFire), ("guspir*", ElectricalFire), ("vonk*", ElectricalFire), ("iskr*", ElectricalFire), ("scantei*", ElectricalFire), ("funken", ElectricalFire), ("funkt", ElectricalFire), ("faisca*", ElectricalFire), ("kivilcim*", ElectricalFire),
    ("on fire", ElectricalFire), ("caught fire", ElectricalFire), ("catching fire", ElectricalFire), ("in flames", ElectricalFire), ("house fire", ElectricalFire), ("smoke in the house", ElectricalFire), ("smoke everywhere", ElectricalFire),
    ("in fiamme", ElectricalFire), ("prende fuoco", ElectricalFire), ("preso fuoco", ElectricalFire), ("va a fuoco", ElectricalFire), ("andato a fuoco", ElectricalFire), ("andata a fuoco", ElectricalFire), ("incendio", ElectricalFire), ("fumo in casa", ElectricalFire),
    ("en llamas", ElectricalFire), ("ardiendo", ElectricalFire), ("se esta quemando", ElectricalFire), ("humo en casa", ElectricalFire), ("incendi", ElectricalFire),
    ("en feu", ElectricalFire), ("pris feu", ElectricalFire), ("prend feu", ElectricalFire), ("en flammes", ElectricalFire), ("incendie", ElectricalFire), ("de la fumee partout", ElectricalFire),
    ("brennt", ElectricalFire), ("pozar", ElectricalFire), ("incendiu", ElectricalFire),
    ("burning smell", ElectricalFire), ("smell of burning", ElectricalFire), ("smells of burning", ElectricalFire), ("smell like burning", ElectricalFire), ("smells like burning", ElectricalFire), ("smell burning", ElectricalFire), ("smelling burning", ElectricalFire), ("smell of melting", ElectricalFire),
    ("odore di bruciato", ElectricalFire), ("puzza di bruciato", ElectricalFire), ("sa di bruciato", ElectricalFire), ("odore di plastica bruciata", ElectricalFire), ("puzza di plastica bruciata", ElectricalFire), ("odore di fili bruciati", ElectricalFire),
    ("olor a quemado", ElectricalFire), ("huele a quemado", ElectricalFire), ("olor a plastico quemado", ElectricalFire), ("huele a plastico quemado", ElectricalFire), ("olor a cable quemado", ElectricalFire),
    ("odeur de brule", ElectricalFire), ("sent le brule", ElectricalFire), ("odeur de plastique brule", ElectricalFire), ("odeur de cram*", ElectricalFire), ("sent le cram*", ElectricalFire), ("odeur de caoutchouc", ElectricalFire), ("plastique fondu", ElectricalFire),
    ("riecht verbrannt", ElectricalFire), ("brandgeruch", ElectricalFire), ("cheiro a queimado", ElectricalFire), ("miroase a ars", ElectricalFire), ("spalenizn*", ElectricalFire), ("brandlucht", ElectricalFire), ("olor de cremat", ElectricalFire), ("yanik kokusu", ElectricalFire),
    // fallen or exposed live cables, electric shocks
    ("live wire", FallenCable), ("live wires", FallenCable), ("live cable", FallenCable), ("live cables", FallenCable), ("downed line", FallenCable), ("downed power", FallenCable),
    ("tree on the line", FallenCable), ("tree on the lines", FallenCable), ("tree on the wires", FallenCable), ("albero sui cavi", FallenCable), ("albero sui fili", FallenCable), ("albero sulla linea", FallenCable), ("arbol sobre los cables", FallenCable), ("arbol sobre la linea", FallenCable), ("arbre sur les fils", FallenCable), ("arbre sur la ligne", FallenCable),
    ("got a shock", FallenCable), ("getting shocks", FallenCable), ("electric shock", FallenCable), ("presa la scossa", FallenCable), ("preso la scossa", FallenCable), ("scossa elettrica", FallenCable), ("prende la scossa", FallenCable), ("descarga electrica", FallenCable), ("me dio la corriente", FallenCable), ("dado calambre", FallenCable), ("pris le jus", FallenCable), ("decharge electrique", FallenCable), ("pris une decharge", FallenCable), ("stromschlag", FallenCable),
    // burst mains
    ("burst main", WaterMain), ("burst water main", WaterMain), ("main has burst", WaterMain), ("main burst", WaterMain), ("burst pipe", WaterMain), ("pipe has burst", WaterMain), ("pipe burst", WaterMain), ("reventon", WaterMain), ("se ha reventado", WaterMain), ("rohrbruch", WaterMain), ("wasserrohrbruch", WaterMain),
    // a person trapped in a lift
    ("stuck in the lift", PersonTrapped), ("trapped in the lift", PersonTrapped), ("between floors", PersonTrapped), ("between two floors", PersonTrapped), ("tra due piani", PersonTrapped), ("fra due piani", PersonTrapped), ("entre dos plantas", PersonTrapped), ("entre dos pisos", PersonTrapped), ("entre deux etages", PersonTrapped),
    // carbon monoxide
    ("carbon monoxide poisoning", CarbonMonoxide), ("co poisoning", CarbonMonoxide), ("intossicazione da monossido", CarbonMonoxide), ("intoxicacion por monoxido", CarbonMonoxide), ("intoxication au monoxyde", CarbonMonoxide), ("yellow flame", CarbonMonoxide), ("flame is yellow", CarbonMonoxide), ("fiamma gialla", CarbonMonoxide), ("llama amarilla", CarbonMonoxide), ("flamme jaune", CarbonMonoxide),
];

/// Dangers that need a thing and a state in one sentence: "the meter" + "is smoking",
/// "a cable" + "on the ground", "the CO alarm" + "keeps going off".
pub struct Pairing {
    pub hazard: Hazard,
    pub things: &'static [&'static str],
    pub states: &'static [&'static str],
    pub whole_message: bool,
}

#[rustfmt::skip]
const GAS: &[&str] = &["gas", "gaz", "gazu", "gaza", "metano", "butano", "propano", "gpl", "glp", "lpg", "gas's"];
#[rustfmt::skip]
const GAS_SIGNS: &[&str] = &[
    "smell*", "smelt", "stink*", "stench", "reek*", "whiff", "leak*", "hiss*", "whistl*",
    "odore", "odori", "puzza", "puzzo", "sento", "sente", "perdita", "perde", "fuga", "fuoriusc*", "sibil*", "fischi*",
    "olor", "olores", "huele", "huelo", "oler", "olia", "apesta", "peste", "escape", "se escapa", "silb*",
    "odeur", "odeurs", "pue", "puant*", "ca sent", "sa sent", "sentait", "sent fort", "sent tres", "fuite", "fuit", "siffl*",
    "riecht", "geruch", "cheiro", "cheira", "miroase", "miros", "czuc", "czuje", "zapach", "ruik*", "stinkt", "lucht", "koku*", "pudor", "lek", "lekt", "wyciek", "scurg*", "kacak*", "zisch*",
];

/// Electrical equipment of the network and the home.
#[rustfmt::skip]
const EQUIPMENT: &[&str] = &[
    "meter", "meters", "meter box", "socket", "sockets", "plug", "outlet", "fuse board", "fusebox", "fuse box", "fuses", "consumer unit", "breaker", "box", "cabinet", "transformer", "substation", "pole", "wire", "wires", "cable", "cables", "street light", "lamp post",
    "contatore", "contatori", "presa", "prese", "spina", "quadro", "quadretto", "centralino", "centralina", "interruttore", "magnetotermico", "cassetta", "armadio", "armadietto", "trasformatore", "cabina", "cabina elettrica", "palo", "cavo", "cavi", "filo", "fili", "lampione",
    "contador", "contadores", "enchufe", "enchufes", "cuadro", "caja", "armario", "diferencial", "transformador", "centro de transformacion", "poste", "farola", "cableado",
    "compteur", "compteurs", "boitier", "prise", "prises", "tableau", "disjoncteur", "coffret", "armoire", "transformateur", "poteau", "fil", "fils", "cable electrique", "lampadaire",
    "zahler", "zaehler", "zahlerkasten", "steckdose", "kabel", "licznik", "gniazdko", "contor", "priza", "comptador", "sayac", "meterkast", "stopcontact", "contador de luz",
];
#[rustfmt::skip]
const FIRE_SIGNS: &[&str] = &[
    "smoke", "smoking", "smoulder*", "smolder*", "burning", "burnt", "burned", "scorch*", "charred", "melted", "melting", "crackl*", "very hot", "red hot", "too hot to touch", "hot to touch", "really hot", "overheat*", "flames", "flame",
    "fumo", "fuma", "fumando", "fumante", "fumare", "bruciat*", "brucia", "bruciacchiat*", "fuso", "fusi", "fusa", "sciolt*", "annerit*", "carbonizz*", "crepit*", "scoppiett*", "sfrigol*", "bollente", "scotta", "caldissim*", "scalda tantissimo", "surriscald*", "fiamm*",
    "humo", "humea*", "humeante", "humillo", "quemad*", "quema", "quemando", "chamuscad*", "derretid*", "fundid*", "ennegrecid*", "muy caliente", "ardiendo", "recalienta*", "sobrecalent*", "llamas", "llamita", "una llama", "llamarada",
    "fumee", "fume", "fumer", "brule", "brulee", "brules", "brulant*", "fondu*", "crame", "noirci*", "carbonis*", "crepite*", "gresill*", "tres chaud", "odeur de chaud", "surchauff*", "flamme", "flammes",
    "rauch", "raucht", "verbrannt", "verschmort", "knister*", "dym", "dymi", "fum", "fumega", "ars", "topit", "trzask*", "rook", "rookt", "duman", "fumaca", "queimad*",
];

/// Overhead and underground lines, and what holds them.
#[rustfmt::skip]
const LINES: &[&str] = &[
    "cable", "cables", "wire", "wires", "power line", "power lines", "electric line", "electricity line", "overhead line", "overhead lines", "service cable", "pole", "poles", "pylon", "cabinet", "street cabinet", "see wires", "see the wires",
    "cavo", "cavi", "filo", "fili", "linea elettrica", "linea aerea", "armadio stradale", "si vedono i fili", "palo", "pali", "pilone", "traliccio", "cavo della luce", "filo della luce",
    "cable", "cables", "linea electrica", "linea de luz", "se ven los cables", "tendido", "poste", "postes",
    "fil", "fils", "cable electrique", "cables electriques", "coffret", "armoire electrique", "on voit les fils", "ligne electrique", "poteau", "poteaux",
    "kabel", "leitung", "stromleitung", "przewod*", "cablu", "fir", "cabo", "cabos", "fio", "fios", "kablo",
];
#[rustfmt::skip]
const DOWN_SIGNS: &[&str] = &[
    "down", "fallen", "fell", "falling", "come down", "on the ground", "on the road", "across the road", "on the footpath", "on the pavement", "in the road", "lying", "hanging", "dangling", "leaning", "torn", "ripped", "bare", "exposed", "chewed", "touching", "hit", "low", "head height", "smashed", "vandalised", "vandalized", "sparking", "insulation",
    "caduto", "caduti", "caduta", "cadute", "a terra", "per terra", "al suolo", "sull'asfalto", "sulla strada", "pende", "pendono", "penzol*", "storto", "piegat*", "strappat*", "tranciat*", "abbattut*", "staccat*", "scopert*", "sguainat*", "spellat*", "bassissim*", "molto bass*", "altezza d'uomo", "sfondat*", "divelt*", "a vista", "guaina rotta",
    "caido", "caidos", "caida", "caidas", "en el suelo", "por el suelo", "al suelo", "en la carretera", "en la calle", "colgando", "cuelga", "cuelgan", "inclinad*", "arrancad*", "tirado", "tirados", "derribad*", "pelad*", "al aire", "muy bajos", "destrozad*", "rotos", "aislante roto", "cobre al aire",
    "tombe", "tombes", "tombee", "tombees", "au sol", "par terre", "sur la route", "sur le trottoir", "sur la chaussee", "pend", "pendent", "pendouill*", "penche", "penchent", "arrach*", "a nu", "denud*", "tres bas", "hauteur d'homme", "vandalis*", "eventre*", "sectionne*", "isolant abime",
    "am boden", "auf der strasse", "heruntergefallen", "op straat", "op de stoep", "na ziemi", "pe jos", "cazut", "caiu", "no chao", "pelat*",
];

#[rustfmt::skip]
const PIPES: &[&str] = &[
    "water main", "water main", "water mains", "gas main", "pipe", "pipes", "hydrant",
    "tubo", "tubi", "tubatura", "tubature", "tubazione", "tubazioni", "acquedotto", "condotta", "conduttura", "idrante",
    "tuberia", "tuberias", "cano", "conduccion", "conducto", "boca de riego",
    "canalisation", "conduite", "tuyau", "tuyaux", "borne incendie", "raccord",
    "rura", "rurociag", "wasserleitung", "conducta", "teava",
];
#[rustfmt::skip]
const BURST_SIGNS: &[&str] = &[
    "burst", "bursting", "split", "broken", "cracked", "ruptured", "blown",
    "rotta", "rotto", "saltat*", "rottura", "esplos*", "scoppiat*", "scoppio", "spaccat*", "cedut*",
    "revent*", "se rompio", "rompio", "rota", "roto", "rotura", "partid*", "estallad*",
    "cassee", "casse", "rompu", "rompue", "eclate*", "a cede", "a lache", "rupture", "fendu*",
    "pekla", "peknieta", "geplatzt", "spart*", "fisurat*", "rebentou",
];
#[rustfmt::skip]
const WATER: &[&str] = &[
    "water", "pipe", "road", "street", "footpath", "pavement", "tarmac",
    "acqua", "asfalto", "strada", "marciapiede", "tombino", "pozzetto", "condotta", "tubo",
    "agua", "calzada", "calle", "acera", "arqueta", "tuberia",
    "eau", "chaussee", "trottoir", "regard", "rue", "canalisation", "tuyau",
    "tapa", "wasser", "woda", "wode", "apa",
];
#[rustfmt::skip]
const GUSH_SIGNS: &[&str] = &[
    "gushing", "gushes", "gush", "bursting out", "spurting", "spewing", "pouring out", "pouring up", "pouring through", "shooting up", "coming up through", "coming up out", "bubbling up", "sinking", "collapsing", "caving in", "geyser",
    "sgorga*", "zampill*", "a fiotti", "getto", "esce a fiumi", "fiume d'acqua", "sta cedendo", "cede", "sprofond*", "esce dall'asfalto", "esce dalla strada",
    "a borbotones", "a chorro", "a chorros", "chorro", "brota", "borbotea", "hundiendo", "se hunde", "sale de la calle", "sale del suelo",
    "jaillit", "jaillir", "jaillissant", "gicle", "geyser", "s'affaisse", "affaiss*", "deborde", "sort de la chaussee", "sort du trottoir",
    "tryska", "sprudelt", "stroomt", "tasnes*", "jorro",
];

/// Where network water escapes: not a tap ("esce acqua marrone dal rubinetto" is a quality
/// problem, not a burst).
#[rustfmt::skip]
const GROUND: &[&str] = &[
    "road", "street", "footpath", "pavement", "tarmac", "manhole", "pipe", "water main", "hydrant",
    "asfalto", "strada", "marciapiede", "tombino", "pozzetto", "chiusino", "condotta", "tubo", "tubatura", "tubazione",
    "calzada", "calle", "acera", "arqueta", "tapa", "tuberia", "asfalto",
    "chaussee", "trottoir", "regard", "canalisation", "tuyau", "conduite",
];
#[rustfmt::skip]
const ESCAPE_SIGNS: &[&str] = &[
    "water coming out", "water is coming out", "water pouring", "water spraying", "shooting water", "spraying water",
    "esce acqua", "acqua esce", "esce l'acqua", "esce tantissima acqua", "uscendo acqua", "sta uscendo", "a pressione", "sparando acqua", "spara acqua", "butta acqua", "getta acqua",
    "sale agua", "agua sale", "sale el agua", "el agua sale", "saliendo agua", "sale mucha agua", "a presion", "echa agua",
    "eau sort", "l'eau sort", "sous pression", "de l'eau sort", "crache de l'eau",
];

/// Water reaching electrical equipment.
#[rustfmt::skip]
const FLOODING: &[&str] = &[
    "flooded", "flooding", "water is reaching", "water reaching", "water getting into", "under water", "water dripping", "water is dripping", "water pouring onto", "water running down",
    "allagat*", "allaga", "allagando", "acqua arriva", "acqua sta arrivando", "sta salendo", "acqua cola", "acqua gocciola", "gocciola acqua",
    "inundad*", "inunda", "inundando", "llega el agua", "el agua llega", "agua llega", "llega a la caja", "cae agua", "gotea agua", "agua gotea",
    "inonde*", "inondant", "l'eau arrive", "eau atteint", "l'eau monte", "eau coule", "l'eau coule", "eau ruisselle",
];
#[rustfmt::skip]
const ELECTRICS: &[&str] = &[
    "electrical room", "electric meter", "electricity meter", "electricity meters", "fuse board", "fusebox", "fuse box", "consumer unit", "switchboard", "sockets",
    "quadro elettrico", "contatori della luce", "contatore della luce", "contatori elettrici", "cabina elettrica", "prese",
    "cuadro electrico", "contadores de luz", "contador de luz", "contadores de la luz", "caja de los contadores", "enchufes",
    "tableau electrique", "compteur electrique", "compteurs electriques", "local electrique", "prises",
];

#[rustfmt::skip]
const DETECTORS: &[&str] = &[
    "co alarm", "co alarms", "co detector", "co monitor", "carbon monoxide", "monoxide", "carbon monoxide alarm", "carbon monoxide detector", "detector",
    "monossido", "allarme co", "rilevatore", "rilevatore di co", "monoxido", "detector de co", "alarma de co", "detector de monoxido",
    "monoxyde", "detecteur", "detecteur de co", "alarme co", "kohlenmonoxid", "co-melder", "czujnik", "czad", "monoxid", "koolmonoxide",
];
#[rustfmt::skip]
const ALARM_SOUNDING: &[&str] = &[
    "going off", "goes off", "went off", "gone off", "keeps going off", "sounding", "beeping", "beeps", "screaming", "ringing", "triggered", "high reading", "ppm",
    "suon*", "scattato", "scattata", "in allarme", "fischia", "pita", "pitar", "pitando", "pitido", "ha pitado", "suena", "sonando", "ha sonado", "salta", "ha saltado", "se ha disparado",
    "sonn*", "retentit", "bipe", "declench*", "piept", "schlagt an", "piszczy", "suna", "bip*",
];
#[rustfmt::skip]
const MANHOLES: &[&str] = &["manhole", "pozzetto", "pozzetti", "tombino", "chiusino", "arqueta", "tapa", "regard", "bouche"];
#[rustfmt::skip]
const FLAMES: &[&str] = &["flame", "flames", "fire", "fiamma", "fiammata", "fiammella", "fiamme", "fuoco", "llamarada", "llamita", "llamas", "una llama", "fuego", "flamme", "flammes", "feu"];

#[rustfmt::skip]
const HEATERS: &[&str] = &[
    "boiler", "gas fire", "heater", "flue", "cooker", "hob", "stove", "water heater", "monoxide", "carbon monoxide",
    "caldaia", "stufa", "scaldabagno", "canna fumaria", "braciere", "fornello", "fornelli", "monossido",
    "caldera", "estufa", "calentador", "brasero", "chimenea", "calefaccion", "monoxido",
    "chaudiere", "poele", "chauffe-eau", "chauffe eau", "conduit", "gaziniere", "monoxyde",
    "therme", "kessel", "piec", "centrala", "caldeira", "esquentador", "kombi", "cv-ketel",
];
#[rustfmt::skip]
const POISONING_SIGNS: &[&str] = &[
    "dizzy", "dizziness", "headache", "headaches", "nausea", "nauseous", "vomit*", "fainted", "fainting", "drowsy", "passed out", "collapsed", "soot",
    "mal di testa", "gira la testa", "capogir*", "vertigin*", "nausea", "svenut*", "svenimento", "sonnolen*", "stordit*", "fuliggine",
    "mareado", "mareada", "mareados", "mareadas", "mareo*", "dolor de cabeza", "duele la cabeza", "duele mucho la cabeza", "desmay*", "vomitos", "nauseas", "hollin",
    "mal de tete", "mal a la tete", "vomir", "tete qui tourne", "maux de tete", "vertige*", "evanoui*", "somnolen*", "nausee*", "suie",
    "schwindel*", "kopfschmerz*", "ubelkeit", "zawrot*", "bol glowy", "ameteli*", "tonturas", "dor de cabeca", "bas donme*",
];

/// A passenger lift only with "in": "stuck on the 7th floor because the lift is broken" is
/// someone who cannot get down the stairs, not someone trapped.
#[rustfmt::skip]
const LIFTS: &[&str] = &[
    "in the lift", "in a lift", "inside the lift", "in the elevator", "in an elevator", "stairlift", "stair lift", "hoist",
    "nell'ascensore", "in ascensore", "dentro l'ascensore", "montascale", "servoscala", "sollevatore",
    "en el ascensor", "dentro del ascensor", "en un ascensor", "salvaescaleras", "silla salvaescaleras", "grua",
    "dans l'ascenseur", "dans un ascenseur", "monte-escalier", "monte escalier", "leve-personne",
    "im aufzug", "treppenlift", "w windzie",
];
#[rustfmt::skip]
const STUCK_SIGNS: &[&str] = &[
    "stuck", "trapped", "hanging", "halfway", "can't get off", "cant get off", "can't get out",
    "bloccat*", "intrappolat*", "chius*", "a meta", "non riesce a scendere",
    "encerrad*", "atrapad*", "bloquead*", "a mitad", "no puede bajar",
    "bloque", "bloquee", "coince", "coincee", "enferme*", "mi-hauteur", "ne peut pas descendre",
    "steckt", "feststeck*", "eingeschlossen", "utknal*", "uwiezion*",
];

/// Carbon monoxide is read across the whole message: "The CO alarm went off. My wife has a
/// headache." Everything else must share a sentence.
pub const PAIRINGS: &[Pairing] = &[
    Pairing { hazard: Gas, things: GAS, states: GAS_SIGNS, whole_message: false },
    Pairing { hazard: Gas, things: MANHOLES, states: FLAMES, whole_message: false },
    Pairing { hazard: ElectricalFire, things: EQUIPMENT, states: FIRE_SIGNS, whole_message: false },
    // Underground cables burn in their chambers: smoke from a manhole is an electrical fire.
    Pairing { hazard: ElectricalFire, things: MANHOLES, states: FIRE_SIGNS, whole_message: false },
    Pairing { hazard: FallenCable, things: LINES, states: DOWN_SIGNS, whole_message: false },
    Pairing { hazard: WaterMain, things: PIPES, states: BURST_SIGNS, whole_message: false },
    Pairing { hazard: WaterMain, things: WATER, states: GUSH_SIGNS, whole_message: false },
    Pairing { hazard: WaterMain, things: GROUND, states: ESCAPE_SIGNS, whole_message: false },
    Pairing { hazard: WaterMain, things: FLOODING, states: ELECTRICS, whole_message: false },
    Pairing { hazard: CarbonMonoxide, things: DETECTORS, states: ALARM_SOUNDING, whole_message: true },
    Pairing { hazard: CarbonMonoxide, things: HEATERS, states: POISONING_SIGNS, whole_message: true },
    Pairing { hazard: PersonTrapped, things: LIFTS, states: STUCK_SIGNS, whole_message: false },
];

/// Equipment that keeps someone alive or breathing: an emergency together with a loss of
/// power anywhere in the message.
#[rustfmt::skip]
pub const DEVICES: &[&str] = &[
    "oxygen", "concentrator", "ventilator", "respirator", "breathing machine", "breathing apparatus", "cpap", "bipap", "apnea monitor", "apnoea monitor", "suction machine", "dialysis", "haemodialysis", "hemodialysis", "oxygen machine", "life support", "life-support", "medical equipment", "medical device", "feeding pump", "infusion pump", "pressure mattress", "air mattress",
    "ossigeno", "concentratore", "respiratore", "ventilatore polmonare", "macchina per respirare", "dialisi", "emodialisi", "apparecchi salvavita", "apparecchio salvavita", "macchinario medic*", "apparecchio medic*", "pompa di nutrizione", "pompa per la nutrizione", "pompa per nutrizione", "materasso antidecubito",
    "oxigeno", "concentrador", "respirador", "ventilador mecanico", "aspirador de secreciones", "dialisis", "hemodialisis", "soporte vital", "equipo medico", "aparato medico", "maquina de respirar", "bomba de nutricion", "colchon antiescaras", "colchon antiescara",
    "oxygene", "sous oxygene", "concentrateur", "respirateur", "appareil de ventilation", "ventilation a domicile", "ventilation non invasive", "ventilation assistee", "appareil respiratoire", "dialyse", "hemodialyse", "appareil medical", "assistance respiratoire", "pompe de nutrition", "matelas anti-escarres", "matelas anti escarres",
    "sauerstoff", "beatmung*", "zuurstof*", "tlen", "respiratorze", "respirator", "oxigen", "oksijen", "oxigenio",
];

#[rustfmt::skip]
pub const POWER_LOSS: &[&str] = &[
    "no power", "without power", "power cut", "power is off", "power went", "power has gone", "power's gone", "power gone", "power just", "power is out", "power's out", "power's just gone", "power has just gone", "just gone off", "gone off", "went out", "been off", "power off", "no supply", "power outage", "power failure", "lost power", "no electricity", "blackout", "tripped", "disconnected", "cut off", "cut the power", "cut our power", "cut off our power", "cut the electricity", "switched off", "lights went out", "on battery", "on its battery", "low battery", "battery left", "minutes of battery", "battery is running",
    "senza luce", "senza corrente", "senza elettricita", "manca la corrente", "manca la luce", "mancanza di corrente", "niente corrente", "niente luce", "non c'e corrente", "non c'e luce", "saltata la corrente", "corrente e saltata", "luce e saltata", "e andata via la", "luce e andata via", "corrente e andata via", "batteria di riserva", "senza fornitura", "saltata la luce", "andata via la corrente", "andata via la luce", "spenta la corrente", "staccato la corrente", "staccata la corrente", "tolto la corrente", "tagliato la luce", "tagliato la corrente", "staccato la luce", "interruzione di corrente", "a batteria", "sulla batteria", "batteria scarica", "minuti di batteria", "gruppo di continuita",
    "sin luz", "sin corriente", "sin electricidad", "no hay luz", "no tenemos luz", "no tengo luz", "se ha ido la luz", "ido la luz", "irse la luz", "ir la luz", "no hay corriente", "sin suministro", "se fue la luz", "se va la luz", "corte de luz", "cortado la luz", "cortado la electricidad", "apagon", "se ha cortado", "con bateria", "con la bateria", "minutos de bateria", "bateria baja",
    "sans electricite", "sans courant", "plus de courant", "plus d'electricite", "pas de courant", "pas d'electricite", "coupure de courant", "coupure d'electricite", "panne de courant", "courant coupe", "coupe l'electricite", "coupe le courant", "couper l'electricite", "courant est coupe", "courant a ete coupe", "courant vient de", "courant vient de couper", "vient de se couper", "electricite s'est coupee", "courant s'est coupe", "courant a saute", "courant vient de sauter", "courant a coupe", "coupe le compteur", "couper le compteur", "sur batterie", "en batterie", "minutes de batterie",
    "geen stroom", "elektrik yok", "kein strom", "stromausfall", "fara curent", "nu avem curent", "nie ma pradu", "wylaczyl sie prad", "sem luz", "sem energia", "sense llum",
];

/// Words before a hazard in the same sentence that make it hypothetical or an instruction.
#[rustfmt::skip]
pub const HYPOTHETICAL: &[&str] = &[
    "if ever", "if i ever", "if we ever", "if one day", "should i ever", "what if", "what should i do if", "what do i do if", "what to do if", "what do we do if", "what happens if", "who do i call if", "who should i call if", "in case of", "in the event of", "if you smell", "if i smell", "if we smell", "if there is ever", "if it goes off", "if the alarm", "asked if", "asked me if", "asked whether", "for the future", "for gas leaks",
    "se un giorno", "se mai", "cosa fare se", "cosa devo fare se", "cosa bisogna fare se", "che fare se", "cosa succede se", "in caso di", "nel caso", "qualora", "se dovessi", "se dovesse", "se sento", "se sentissi", "se sentite", "se si sente", "e se", "se suona", "se suonasse", "se scatta", "chiesto se", "per il futuro", "sentisse", "notassi",
    "si algun dia", "si alguna vez", "que hacer si", "que tengo que hacer si", "que debo hacer si", "que pasa si", "y si", "si suena", "si pitara", "preguntaron si", "me pregunto si", "si pita", "para el futuro", "notara", "oliera", "en caso de", "si cuando", "si huele", "si hueles", "si notas", "si noto",
    "si un jour", "que faire si", "que dois-je faire si", "qu'est-ce qu'il faut faire si", "que se passe-t-il si", "et si", "si sonne", "s'il sonne", "demande si", "si je sentais", "pour l'avenir", "en cas de", "si jamais", "si je sens", "si vous sentez", "si ca sent",
];

/// A danger fixed, gone or a false alarm (in the sentence or the one after it). Written as
/// finished facts: "fixed" alone would also match "it needs to be fixed".
#[rustfmt::skip]
pub const RESOLVED: &[&str] = &[
    "fixed it", "fixed now", "was fixed", "been fixed", "has fixed", "have fixed", "they fixed", "he fixed", "she fixed", "all fixed", "it's fixed", "is fixed", "got it fixed",
    "repaired it", "was repaired", "been repaired", "has repaired", "have repaired", "they repaired", "he repaired", "all sorted", "it's sorted", "is sorted", "sorted it", "was resolved", "been resolved", "is resolved", "all resolved",
    "all fine", "all good", "false alarm", "turned out to be", "it was just", "was the battery", "changed the battery", "end of life", "put it out", "made it safe", "made safe", "went away", "gone away", "disappeared", "has replaced", "have replaced", "replaced it", "there was no leak", "found no leak", "found nothing", "nothing was found",
    "ha riparato", "hanno riparato", "e stato riparato", "e stata riparata", "ora riparata", "ora riparato", "gia riparat*", "ha sistemato", "hanno sistemato", "e stato sistemato", "tutto sistemato", "ha risolto", "hanno risolto", "tutto risolto", "e stato risolto", "ha aggiustato", "hanno aggiustato", "ha sostituito", "hanno sostituito", "non c'era nessuna", "non c'era nessun", "non ha trovato",
    "falso allarme", "era solo", "era la batteria", "cambiato la batteria", "cambiato le pile", "tutto a posto", "messo in sicurezza", "e sparito", "e sparita", "e scomparso", "e scomparsa",
    "lo arreglo", "lo arreglaron", "la arreglo", "la arreglaron", "esta arreglad*", "fue arreglad*", "quedo arreglad*", "ya arreglad*", "ha arreglado", "han arreglado", "ya reparad*", "ha reparado", "han reparado", "fue reparad*", "esta reparad*", "repararon", "reparo", "ya solucionad*", "esta solucionad*", "han solucionado", "todo solucionado", "ha cambiado", "han cambiado", "no habia ninguna", "no habia ningun", "no encontro", "no encontraron",
    "falsa alarma", "era la pila", "cambiado la pila", "cambie la pila", "ya apagado", "todo revisado", "ha desaparecido", "desaparecio", "fin de vida",
    "a repare", "a tout repare", "ont repare", "ont tout repare", "est repare*", "a ete repare*", "tout est repare", "deja repare*", "a regle", "c'est regle", "est regle", "tout est regle", "a ete regle",
    "fausse alerte", "en fait c'etait", "c'etait juste", "c'etait la pile", "change la pile", "plus de danger", "tout est normal", "fin de vie", "mis en securite", "a disparu", "ont disparu", "tout va bien maintenant", "a remplace", "ont remplace", "n'a rien trouve", "il n'y avait aucune", "il n'y avait pas de", "ja reparou", "reparou",
];

/// The power is back: a power cut mentioned with them is over.
#[rustfmt::skip]
pub const POWER_BACK: &[&str] = &[
    "back on", "came back", "is back", "restored", "e tornata", "e tornato", "tornata la luce", "tornata la corrente", "ripristinat*",
    "ha vuelto", "volvio", "ya hay luz", "restablecid*", "est revenu", "est revenue", "retabli*",
];

/// A danger in the past ("last week there were sparks"), unless it continues.
#[rustfmt::skip]
pub const PAST: &[&str] = &[
    "last week", "last month", "last year", "last winter", "last summer", "years ago", "months ago", "in the past", "weeks ago", "week ago", "in january", "in february", "in march", "in april", "in may", "in june", "in july", "in august", "in september", "in october", "in november", "in december", "the other day", "days ago", "had been", "the first day", "last monday", "last tuesday", "last wednesday", "last thursday", "last friday", "last saturday", "last sunday",
    "settimana scorsa", "mese scorso", "anno scorso", "inverno scorso", "estate scorsa", "anni fa", "mesi fa", "in passato", "settimane fa", "settimana fa", "a gennaio", "a febbraio", "a marzo", "ad aprile", "a maggio", "a giugno", "a luglio", "ad agosto", "a settembre", "ad ottobre", "a ottobre", "a novembre", "a dicembre", "in gennaio", "in febbraio", "l'altro giorno", "giorni fa", "il primo giorno", "lunedi scorso", "martedi scorso", "mercoledi scorso", "giovedi scorso", "venerdi scorso", "sabato scorso", "domenica scorsa",
    "semana pasada", "mes pasado", "ano pasado", "invierno pasado", "verano pasado", "hace anos", "hace meses", "en el pasado", "hace una semana", "hace dos semanas", "hace tres semanas", "en enero", "en febrero", "en marzo", "en abril", "en mayo", "en junio", "en julio", "en agosto", "en septiembre", "en octubre", "en noviembre", "en diciembre", "el otro dia", "hace unos dias", "hace dias", "el primer dia", "habia habido", "lunes pasado", "martes pasado", "miercoles pasado", "jueves pasado", "viernes pasado", "sabado pasado", "domingo pasado",
    "semaine derniere", "mois dernier", "annee derniere", "an dernier", "hiver dernier", "ete dernier", "par le passe", "il y a une semaine", "il y a deux semaines", "il y a trois semaines", "en janvier", "en fevrier", "en mars", "en avril", "en mai", "en juin", "en juillet", "en aout", "en septembre", "en octobre", "en novembre", "en decembre", "l'autre jour", "il y a quelques jours", "le premier jour", "il y avait eu", "lundi dernier", "mardi dernier", "mercredi dernier", "jeudi dernier", "vendredi dernier", "samedi dernier", "dimanche dernier",
];

/// The danger is here now: this overrides a past-time word in the same sentence.
#[rustfmt::skip]
pub const PRESENT: &[&str] = &[
    "now", "right now", "at the moment", "currently", "since this", "since yesterday", "since last", "since the", "since we", "since he", "since she", "since they", "today", "this morning", "tonight",
    "adesso", "in questo momento", "da ieri", "da stamattina", "da stanotte", "da giorni", "da ore", "dalla settimana", "dal mese", "oggi", "stamattina", "stasera",
    "ahora", "ahora mismo", "en este momento", "desde ayer", "desde esta", "desde hace", "desde el", "desde la", "desde que", "desde anoche", "hoy", "esta manana", "esta noche",
    "maintenant", "en ce moment", "depuis ce", "depuis hier", "depuis une", "depuis deux", "depuis que", "depuis le", "depuis la", "depuis des", "aujourd'hui", "ce matin", "ce soir",
];

/// The danger continues: this overrides "fixed" or a past-time word in the same sentence or
/// the one before ("I reported exposed cables three days ago. They're STILL there").
#[rustfmt::skip]
pub const STILL: &[&str] = &[
    "still", "again", "ancora", "di nuovo", "tuttora", "todavia", "sigue", "siguen", "de nuevo", "otra vez", "toujours", "encore", "de nouveau",
];

/// A power cut that has not happened yet.
#[rustfmt::skip]
pub const FUTURE: &[&str] = &[
    "tomorrow", "next week", "planned", "scheduled",
    "domani", "dopodomani", "prossima settimana", "programmat*", "previst*", "annunciat*",
    "para manana", "manana de", "manana por", "pasado manana", "semana que viene", "proxima semana", "programad*", "previst*", "habra",
    "demain", "apres-demain", "semaine prochaine", "prevu*", "programmee", "programmees", "annonce*", "aura lieu",
];

/// The person depending on equipment is explicitly safe.
#[rustfmt::skip]
pub const NOT_IN_DANGER: &[&str] = &[
    "not in danger", "not in any danger", "in no danger", "no danger to", "non e in pericolo", "non corre pericolo", "nessun pericolo", "no corre peligro", "no esta en peligro", "n'est pas en danger", "hors de danger", "aucun danger",
];

/// "I put GAS LEAK in the subject so you'd answer": a sentence with one of these and one of
/// [`SUBJECT_WORDS`] is about the subject line, not about a danger.
#[rustfmt::skip]
pub const BAIT: &[&str] = &[
    "i put", "i've put", "i have put", "i wrote", "i've written", "i typed",
    "ho scritto", "ho messo", "l'ho scritto", "he puesto", "he escrito", "lo he puesto", "lo puse", "puse", "j'ai mis", "j'ai ecrit", "je l'ai ecrit", "je l'ai mis",
];

#[rustfmt::skip]
pub const SUBJECT_WORDS: &[&str] = &["subject", "oggetto", "asunto", "objet"];

/// Cables that are not ours: a sagging phone line is not a fallen power line.
#[rustfmt::skip]
pub const TELECOM: &[&str] = &["phone", "telephone", "telephon*", "telefon*", "broadband", "internet", "fibre", "fiber", "fibra", "tv", "antenna", "antenne", "operador", "operatore", "operateur"];

/// Smoke from a cigarette is not smoke from the meter.
#[rustfmt::skip]
pub const TOBACCO: &[&str] = &["cigarette", "cigarettes", "sigaretta", "sigarette", "cigarrillo", "cigarro", "tabac*", "tabacco", "tabaco", "vape", "vaping"];
