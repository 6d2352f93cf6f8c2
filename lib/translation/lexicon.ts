/**
 * The lexicon of the Spanish → English toy language: real words with their real inflections
 * (gender and number of nouns and adjectives, the six present-tense forms of each verb, English
 * plurals and third-person -s). The grammar in ./corpus combines them.
 */

export type Gender = 'm' | 'f';
export type NounClass = 'person' | 'animal' | 'food' | 'drink' | 'readable' | 'thing' | 'place';

export interface Noun {
  es: string;
  esPlural: string;
  en: string;
  enPlural: string;
  gender: Gender;
  cls: NounClass;
  /** Mass nouns (agua, pan) may stand without a determiner, and are never plural. */
  mass: boolean;
}

export interface Adjective {
  /** masculine singular, feminine singular, masculine plural, feminine plural. */
  es: [string, string, string, string];
  en: string;
  /** Can follow estar (a state: cansado, enfermo); the rest follow ser. */
  state: boolean;
}

export type VerbKind = 'transitive' | 'intransitive';

export interface Verb {
  /** Infinitive, then yo, tú, él/ella, nosotros, vosotros, ellos/ellas. */
  infinitive: string;
  forms: [string, string, string, string, string, string];
  /** English base form (one or more words: 'look for'), and its third person singular. */
  en: string[];
  en3: string[];
  kind: VerbKind;
  /** Classes of object it takes (transitive verbs). */
  objects: NounClass[];
  /** Takes an animate object with the personal "a" (ayudar a mi hermano). */
  personal: boolean;
}

// ---------------------------------------------------------------------------------------------
// Inflection rules
// ---------------------------------------------------------------------------------------------

const STRIP_ACCENT: Record<string, string> = { á: 'a', é: 'e', í: 'i', ó: 'o', ú: 'u' };

/** Regular Spanish plural: casa → casas, ciudad → ciudades, lápiz → lápices, ratón → ratones. */
export function spanishPlural(word: string): string {
  if (/[aeiouéó]$/.test(word)) return `${word}s`;
  if (word.endsWith('z')) return `${word.slice(0, -1)}ces`;
  // An accent on a final syllable ending in n or s disappears: ratón → ratones, inglés → ingleses.
  const m = /^(.*)([áéíóú])([ns])$/.exec(word);
  if (m) return `${m[1]}${STRIP_ACCENT[m[2]]}${m[3]}es`;
  return `${word}es`;
}

/** Regular English plural: cat → cats, box → boxes, city → cities. */
export function englishPlural(word: string): string {
  if (/(s|x|z|ch|sh)$/.test(word)) return `${word}es`;
  if (/[^aeiou]y$/.test(word)) return `${word.slice(0, -1)}ies`;
  return `${word}s`;
}

/** English third person singular: eat → eats, watch → watches, cry → cries, go → goes. */
export function englishThirdPerson(word: string): string {
  if (word === 'have') return 'has';
  if (word === 'be') return 'is';
  if (word === 'can') return 'can';
  if (/(s|x|z|ch|sh|o)$/.test(word)) return `${word}es`;
  if (/[^aeiou]y$/.test(word)) return `${word.slice(0, -1)}ies`;
  return `${word}s`;
}

/** The six present-tense forms of a regular -ar / -er / -ir verb. */
export function regularPresent(infinitive: string): [string, string, string, string, string, string] {
  const stem = infinitive.slice(0, -2);
  const ending = infinitive.slice(-2);
  const table: Record<string, string[]> = {
    ar: ['o', 'as', 'a', 'amos', 'áis', 'an'],
    er: ['o', 'es', 'e', 'emos', 'éis', 'en'],
    ir: ['o', 'es', 'e', 'imos', 'ís', 'en'],
  };
  const e = table[ending];
  if (!e) throw new Error(`regularPresent: '${infinitive}' is not an -ar/-er/-ir infinitive`);
  return e.map((x) => stem + x) as [string, string, string, string, string, string];
}

// ---------------------------------------------------------------------------------------------
// Nouns
// ---------------------------------------------------------------------------------------------

function noun(es: string, en: string, gender: Gender, cls: NounClass, o: { esPl?: string; enPl?: string; mass?: boolean } = {}): Noun {
  return { es, en, gender, cls, esPlural: o.esPl ?? spanishPlural(es), enPlural: o.enPl ?? englishPlural(en), mass: o.mass ?? false };
}

export const NOUNS: readonly Noun[] = [
  // people
  noun('hermano', 'brother', 'm', 'person'), noun('hermana', 'sister', 'f', 'person'),
  noun('padre', 'father', 'm', 'person'), noun('madre', 'mother', 'f', 'person'),
  noun('hijo', 'son', 'm', 'person'), noun('hija', 'daughter', 'f', 'person'),
  noun('amigo', 'friend', 'm', 'person'), noun('amiga', 'friend', 'f', 'person'),
  noun('profesor', 'teacher', 'm', 'person'), noun('profesora', 'teacher', 'f', 'person'),
  noun('médico', 'doctor', 'm', 'person'), noun('vecino', 'neighbour', 'm', 'person'),
  noun('vecina', 'neighbour', 'f', 'person'),
  noun('niño', 'boy', 'm', 'person'), noun('niña', 'girl', 'f', 'person'),
  noun('hombre', 'man', 'm', 'person', { enPl: 'men' }), noun('mujer', 'woman', 'f', 'person', { enPl: 'women' }),
  noun('abuelo', 'grandfather', 'm', 'person'), noun('abuela', 'grandmother', 'f', 'person'),
  noun('tío', 'uncle', 'm', 'person'), noun('tía', 'aunt', 'f', 'person'),
  noun('primo', 'cousin', 'm', 'person'), noun('rey', 'king', 'm', 'person'), noun('reina', 'queen', 'f', 'person'),
  noun('soldado', 'soldier', 'm', 'person'), noun('cocinero', 'cook', 'm', 'person'),
  noun('escritor', 'writer', 'm', 'person'), noun('pintor', 'painter', 'm', 'person'),
  noun('jefe', 'boss', 'm', 'person'), noun('músico', 'musician', 'm', 'person'),
  noun('panadero', 'baker', 'm', 'person'), noun('granjero', 'farmer', 'm', 'person'),
  noun('abogado', 'lawyer', 'm', 'person'), noun('ladrón', 'thief', 'm', 'person', { enPl: 'thieves' }),
  noun('alumno', 'pupil', 'm', 'person'), noun('estudiante', 'student', 'm', 'person'),
  noun('enfermera', 'nurse', 'f', 'person'), noun('bailarina', 'dancer', 'f', 'person'),
  noun('cantante', 'singer', 'f', 'person'), noun('princesa', 'princess', 'f', 'person'),
  // animals
  noun('gato', 'cat', 'm', 'animal'), noun('perro', 'dog', 'm', 'animal'), noun('caballo', 'horse', 'm', 'animal'),
  noun('pájaro', 'bird', 'm', 'animal'), noun('ratón', 'mouse', 'm', 'animal', { enPl: 'mice' }),
  noun('pez', 'fish', 'm', 'animal', { enPl: 'fish' }), noun('vaca', 'cow', 'f', 'animal'),
  noun('oveja', 'sheep', 'f', 'animal', { enPl: 'sheep' }), noun('cerdo', 'pig', 'm', 'animal'),
  noun('conejo', 'rabbit', 'm', 'animal'), noun('león', 'lion', 'm', 'animal'), noun('tigre', 'tiger', 'm', 'animal'),
  noun('oso', 'bear', 'm', 'animal'), noun('lobo', 'wolf', 'm', 'animal', { enPl: 'wolves' }),
  noun('zorro', 'fox', 'm', 'animal'), noun('mono', 'monkey', 'm', 'animal'), noun('elefante', 'elephant', 'm', 'animal'),
  noun('serpiente', 'snake', 'f', 'animal'), noun('araña', 'spider', 'f', 'animal'), noun('pato', 'duck', 'm', 'animal'),
  noun('gallina', 'hen', 'f', 'animal'), noun('burro', 'donkey', 'm', 'animal'), noun('rana', 'frog', 'f', 'animal'),
  noun('abeja', 'bee', 'f', 'animal'), noun('tortuga', 'turtle', 'f', 'animal'), noun('ballena', 'whale', 'f', 'animal'),
  // food and drink
  noun('manzana', 'apple', 'f', 'food'), noun('naranja', 'orange', 'f', 'food'), noun('queso', 'cheese', 'm', 'food', { mass: true }),
  noun('pan', 'bread', 'm', 'food', { mass: true }), noun('pastel', 'cake', 'm', 'food'), noun('sopa', 'soup', 'f', 'food', { mass: true }),
  noun('galleta', 'cookie', 'f', 'food'), noun('huevo', 'egg', 'm', 'food'), noun('pescado', 'fish', 'm', 'food', { mass: true }),
  noun('arroz', 'rice', 'm', 'food', { mass: true }), noun('carne', 'meat', 'f', 'food', { mass: true }),
  noun('plátano', 'banana', 'm', 'food'), noun('tomate', 'tomato', 'm', 'food', { enPl: 'tomatoes' }),
  noun('zanahoria', 'carrot', 'f', 'food'), noun('fresa', 'strawberry', 'f', 'food'), noun('chocolate', 'chocolate', 'm', 'food', { mass: true }),
  noun('limonada', 'lemonade', 'f', 'drink', { mass: true }), noun('leche', 'milk', 'f', 'drink', { mass: true }),
  noun('café', 'coffee', 'm', 'drink', { mass: true }), noun('té', 'tea', 'm', 'drink', { mass: true }),
  noun('vino', 'wine', 'm', 'drink', { mass: true }), noun('zumo', 'juice', 'm', 'drink', { mass: true }),
  // things to read
  noun('libro', 'book', 'm', 'readable'), noun('carta', 'letter', 'f', 'readable'), noun('periódico', 'newspaper', 'm', 'readable'),
  noun('mapa', 'map', 'm', 'readable'), noun('revista', 'magazine', 'f', 'readable'), noun('cuento', 'story', 'm', 'readable'),
  noun('poema', 'poem', 'm', 'readable'), noun('mensaje', 'message', 'm', 'readable'),
  // things
  noun('mesa', 'table', 'f', 'thing'), noun('silla', 'chair', 'f', 'thing'), noun('coche', 'car', 'm', 'thing'),
  noun('puerta', 'door', 'f', 'thing'), noun('ventana', 'window', 'f', 'thing'), noun('llave', 'key', 'f', 'thing'),
  noun('cama', 'bed', 'f', 'thing'), noun('reloj', 'clock', 'm', 'thing'), noun('teléfono', 'phone', 'm', 'thing'),
  noun('lápiz', 'pencil', 'm', 'thing'), noun('cuaderno', 'notebook', 'm', 'thing'), noun('caja', 'box', 'f', 'thing'),
  noun('bolsa', 'bag', 'f', 'thing'), noun('taza', 'cup', 'f', 'thing'), noun('vaso', 'glass', 'm', 'thing'),
  noun('plato', 'plate', 'm', 'thing'), noun('cuchillo', 'knife', 'm', 'thing', { enPl: 'knives' }),
  noun('botella', 'bottle', 'f', 'thing'), noun('sombrero', 'hat', 'm', 'thing'), noun('zapato', 'shoe', 'm', 'thing'),
  noun('camisa', 'shirt', 'f', 'thing'), noun('vestido', 'dress', 'm', 'thing'), noun('pelota', 'ball', 'f', 'thing'),
  noun('juguete', 'toy', 'm', 'thing'), noun('regalo', 'gift', 'm', 'thing'), noun('barco', 'boat', 'm', 'thing'),
  noun('tren', 'train', 'm', 'thing'), noun('avión', 'plane', 'm', 'thing'), noun('bicicleta', 'bicycle', 'f', 'thing'),
  noun('cuadro', 'painting', 'm', 'thing'), noun('espejo', 'mirror', 'm', 'thing'), noun('lámpara', 'lamp', 'f', 'thing'),
  noun('flor', 'flower', 'f', 'thing'), noun('árbol', 'tree', 'm', 'thing'), noun('piedra', 'stone', 'f', 'thing'),
  noun('paraguas', 'umbrella', 'm', 'thing', { esPl: 'paraguas' }), noun('guitarra', 'guitar', 'f', 'thing'),
  noun('ordenador', 'computer', 'm', 'thing'), noun('cuchara', 'spoon', 'f', 'thing'), noun('abrigo', 'coat', 'm', 'thing'),
  noun('anillo', 'ring', 'm', 'thing'), noun('moneda', 'coin', 'f', 'thing'), noun('vela', 'candle', 'f', 'thing'),
  // places
  noun('casa', 'house', 'f', 'place'), noun('ciudad', 'city', 'f', 'place'), noun('pueblo', 'village', 'm', 'place'),
  noun('jardín', 'garden', 'm', 'place'), noun('parque', 'park', 'm', 'place'), noun('escuela', 'school', 'f', 'place'),
  noun('iglesia', 'church', 'f', 'place'), noun('tienda', 'shop', 'f', 'place'), noun('mercado', 'market', 'm', 'place'),
  noun('río', 'river', 'm', 'place'), noun('montaña', 'mountain', 'f', 'place'), noun('playa', 'beach', 'f', 'place'),
  noun('bosque', 'forest', 'm', 'place'), noun('calle', 'street', 'f', 'place'), noun('plaza', 'square', 'f', 'place'),
  noun('cocina', 'kitchen', 'f', 'place'), noun('biblioteca', 'library', 'f', 'place'), noun('hospital', 'hospital', 'm', 'place'),
  noun('puente', 'bridge', 'm', 'place'), noun('castillo', 'castle', 'm', 'place'), noun('granja', 'farm', 'f', 'place'),
  noun('isla', 'island', 'f', 'place'), noun('lago', 'lake', 'm', 'place'), noun('campo', 'field', 'm', 'place'),
  noun('museo', 'museum', 'm', 'place'), noun('estación', 'station', 'f', 'place'), noun('oficina', 'office', 'f', 'place'),
  noun('teatro', 'theatre', 'm', 'place'), noun('puerto', 'harbour', 'm', 'place'), noun('cueva', 'cave', 'f', 'place'),
];

// ---------------------------------------------------------------------------------------------
// Adjectives
// ---------------------------------------------------------------------------------------------

function adjective(ms: string, en: string, o: { state?: boolean; plural?: string } = {}): Adjective {
  let forms: [string, string, string, string];
  if (ms.endsWith('o')) {
    const stem = ms.slice(0, -1);
    forms = [ms, `${stem}a`, `${stem}os`, `${stem}as`];
  } else {
    const pl = o.plural ?? spanishPlural(ms);
    forms = [ms, ms, pl, pl];
  }
  return { es: forms, en, state: o.state ?? false };
}

export const ADJECTIVES: readonly Adjective[] = [
  adjective('negro', 'black'), adjective('blanco', 'white'), adjective('rojo', 'red'), adjective('azul', 'blue'),
  adjective('verde', 'green'), adjective('amarillo', 'yellow'), adjective('gris', 'grey'), adjective('marrón', 'brown'),
  adjective('grande', 'big'), adjective('pequeño', 'small'), adjective('alto', 'tall'), adjective('bajo', 'short'),
  adjective('viejo', 'old'), adjective('nuevo', 'new'), adjective('joven', 'young', { plural: 'jóvenes' }),
  adjective('bonito', 'pretty'), adjective('feo', 'ugly'), adjective('rápido', 'fast'), adjective('lento', 'slow'),
  adjective('fuerte', 'strong'), adjective('débil', 'weak'), adjective('rico', 'rich'), adjective('pobre', 'poor'),
  adjective('feliz', 'happy', { state: true }), adjective('triste', 'sad', { state: true }),
  adjective('cansado', 'tired', { state: true }), adjective('enfermo', 'ill', { state: true }),
  adjective('contento', 'glad', { state: true }), adjective('ocupado', 'busy', { state: true }),
  adjective('enfadado', 'angry', { state: true }), adjective('preocupado', 'worried', { state: true }),
  adjective('limpio', 'clean'), adjective('sucio', 'dirty'), adjective('caliente', 'hot'), adjective('frío', 'cold'),
  adjective('largo', 'long'), adjective('barato', 'cheap'), adjective('caro', 'expensive'), adjective('simpático', 'nice'),
  adjective('inteligente', 'intelligent'), adjective('tranquilo', 'quiet'), adjective('famoso', 'famous'),
  adjective('hermoso', 'beautiful'), adjective('delgado', 'thin'), adjective('gordo', 'fat'), adjective('valiente', 'brave'),
  adjective('perezoso', 'lazy'), adjective('dulce', 'sweet'), adjective('oscuro', 'dark'), adjective('redondo', 'round'),
  adjective('pesado', 'heavy'), adjective('vacío', 'empty'), adjective('lleno', 'full'), adjective('roto', 'broken'),
  adjective('antiguo', 'ancient'), adjective('moderno', 'modern'), adjective('extraño', 'strange'), adjective('amable', 'kind'),
  adjective('tonto', 'silly'), adjective('salvaje', 'wild'), adjective('peligroso', 'dangerous'), adjective('suave', 'soft'),
];

/**
 * Adjectives that go *before* the noun in Spanish too: masculine singular, feminine singular,
 * plural; English. "gran" (great, before the noun) is not "grande" (big, after it).
 */
export const PRENOMINAL: readonly { es: [string, string, string, string]; en: string }[] = [
  { es: ['mejor', 'mejor', 'mejores', 'mejores'], en: 'best' },
  { es: ['peor', 'peor', 'peores', 'peores'], en: 'worst' },
  { es: ['gran', 'gran', 'grandes', 'grandes'], en: 'great' },
  { es: ['primer', 'primera', 'primeros', 'primeras'], en: 'first' },
  { es: ['último', 'última', 'últimos', 'últimas'], en: 'last' },
];

// ---------------------------------------------------------------------------------------------
// Verbs
// ---------------------------------------------------------------------------------------------

type Forms = [string, string, string, string, string, string];

function verb(infinitive: string, en: string, kind: VerbKind, o: { forms?: Forms; objects?: NounClass[]; personal?: boolean; en3?: string } = {}): Verb {
  const words = en.split(' ');
  const en3 = [o.en3 ?? englishThirdPerson(words[0]), ...words.slice(1)];
  return {
    infinitive, forms: o.forms ?? regularPresent(infinitive), en: words, en3, kind,
    objects: o.objects ?? [], personal: o.personal ?? false,
  };
}

const ANY_THING: NounClass[] = ['thing', 'readable', 'food'];
const ANIMATE: NounClass[] = ['person', 'animal'];

export const VERBS: readonly Verb[] = [
  verb('comer', 'eat', 'transitive', { objects: ['food'] }),
  verb('beber', 'drink', 'transitive', { objects: ['drink'] }),
  verb('ver', 'see', 'transitive', { objects: [...ANY_THING, ...ANIMATE, 'place'], personal: true, forms: ['veo', 'ves', 've', 'vemos', 'veis', 'ven'] }),
  verb('mirar', 'watch', 'transitive', { objects: [...ANIMATE, 'thing'], personal: true }),
  verb('buscar', 'look for', 'transitive', { objects: [...ANY_THING, ...ANIMATE], personal: true }),
  verb('leer', 'read', 'transitive', { objects: ['readable'] }),
  verb('escribir', 'write', 'transitive', { objects: ['readable'] }),
  verb('comprar', 'buy', 'transitive', { objects: ['thing', 'food', 'drink', 'readable'] }),
  verb('vender', 'sell', 'transitive', { objects: ['thing', 'food', 'readable', 'animal'] }),
  verb('tener', 'have', 'transitive', { objects: ['thing', 'animal', 'food', 'readable'], forms: ['tengo', 'tienes', 'tiene', 'tenemos', 'tenéis', 'tienen'] }),
  verb('necesitar', 'need', 'transitive', { objects: ['thing', 'food', 'drink', 'readable'] }),
  verb('llevar', 'carry', 'transitive', { objects: ['thing', 'food', 'readable'] }),
  verb('abrir', 'open', 'transitive', { objects: ['thing', 'readable'] }),
  verb('cerrar', 'close', 'transitive', { objects: ['thing', 'readable'], forms: ['cierro', 'cierras', 'cierra', 'cerramos', 'cerráis', 'cierran'] }),
  verb('romper', 'break', 'transitive', { objects: ['thing'] }),
  verb('encontrar', 'find', 'transitive', { objects: [...ANY_THING, ...ANIMATE], personal: true, forms: ['encuentro', 'encuentras', 'encuentra', 'encontramos', 'encontráis', 'encuentran'] }),
  verb('perder', 'lose', 'transitive', { objects: ['thing', 'readable'], forms: ['pierdo', 'pierdes', 'pierde', 'perdemos', 'perdéis', 'pierden'] }),
  verb('limpiar', 'clean', 'transitive', { objects: ['thing', 'place'] }),
  verb('pintar', 'paint', 'transitive', { objects: ['thing', 'place'] }),
  verb('dibujar', 'draw', 'transitive', { objects: [...ANIMATE, 'thing', 'place'], personal: true }),
  verb('coger', 'take', 'transitive', { objects: ['thing', 'food', 'readable'], forms: ['cojo', 'coges', 'coge', 'cogemos', 'cogéis', 'cogen'] }),
  verb('traer', 'bring', 'transitive', { objects: ['thing', 'food', 'drink', 'readable'], forms: ['traigo', 'traes', 'trae', 'traemos', 'traéis', 'traen'] }),
  verb('preparar', 'prepare', 'transitive', { objects: ['food', 'drink'] }),
  verb('cocinar', 'cook', 'transitive', { objects: ['food'] }),
  verb('lavar', 'wash', 'transitive', { objects: ['thing', 'animal', 'food'], personal: true }),
  verb('tocar', 'touch', 'transitive', { objects: ['thing', 'animal'], personal: true }),
  verb('seguir', 'follow', 'transitive', { objects: ANIMATE, personal: true, forms: ['sigo', 'sigues', 'sigue', 'seguimos', 'seguís', 'siguen'] }),
  verb('ayudar', 'help', 'transitive', { objects: ANIMATE, personal: true }),
  verb('conocer', 'know', 'transitive', { objects: ['person', 'place'], personal: true, forms: ['conozco', 'conoces', 'conoce', 'conocemos', 'conocéis', 'conocen'] }),
  verb('llamar', 'call', 'transitive', { objects: ANIMATE, personal: true }),
  verb('esperar', 'wait for', 'transitive', { objects: ['person', 'thing'], personal: true }),
  verb('visitar', 'visit', 'transitive', { objects: ['person', 'place'], personal: true }),
  verb('odiar', 'hate', 'transitive', { objects: [...ANIMATE, 'food'], personal: true }),
  verb('escuchar', 'listen to', 'transitive', { objects: ['person', 'animal'], personal: true }),
  verb('alimentar', 'feed', 'transitive', { objects: ANIMATE, personal: true }),
  verb('esconder', 'hide', 'transitive', { objects: ['thing', 'food', 'readable'] }),
  verb('dormir', 'sleep', 'intransitive', { forms: ['duermo', 'duermes', 'duerme', 'dormimos', 'dormís', 'duermen'] }),
  verb('correr', 'run', 'intransitive'), verb('caminar', 'walk', 'intransitive'), verb('nadar', 'swim', 'intransitive'),
  verb('cantar', 'sing', 'intransitive'), verb('bailar', 'dance', 'intransitive'), verb('trabajar', 'work', 'intransitive'),
  verb('llorar', 'cry', 'intransitive'),
  verb('reír', 'laugh', 'intransitive', { forms: ['río', 'ríes', 'ríe', 'reímos', 'reís', 'ríen'] }),
  verb('jugar', 'play', 'intransitive', { forms: ['juego', 'juegas', 'juega', 'jugamos', 'jugáis', 'juegan'] }),
  verb('llegar', 'arrive', 'intransitive'), verb('vivir', 'live', 'intransitive'), verb('estudiar', 'study', 'intransitive'),
  verb('hablar', 'speak', 'intransitive'), verb('viajar', 'travel', 'intransitive'), verb('descansar', 'rest', 'intransitive'),
  verb('gritar', 'shout', 'intransitive'), verb('esquiar', 'ski', 'intransitive', { forms: ['esquío', 'esquías', 'esquía', 'esquiamos', 'esquiáis', 'esquían'] }),
];

/** Verbs that take an infinitive: poder + inf → can + verb; querer + inf → want to + verb. */
export const MODALS = {
  poder: { forms: ['puedo', 'puedes', 'puede', 'podemos', 'podéis', 'pueden'] as Forms, en: ['can'], en3: ['can'] },
  querer: { forms: ['quiero', 'quieres', 'quiere', 'queremos', 'queréis', 'quieren'] as Forms, en: ['want', 'to'], en3: ['wants', 'to'] },
  necesitar: { forms: regularPresent('necesitar'), en: ['need', 'to'], en3: ['needs', 'to'] },
  tener: { forms: ['tengo', 'tienes', 'tiene', 'tenemos', 'tenéis', 'tienen'] as Forms, en: ['have', 'to'], en3: ['has', 'to'] },
} as const;
export type ModalName = keyof typeof MODALS;

/** Verbs that take a clause: dice que … → says that … */
export const REPORTING = {
  decir: { forms: ['digo', 'dices', 'dice', 'decimos', 'decís', 'dicen'] as Forms, en: 'say' },
  creer: { forms: regularPresent('creer'), en: 'believe' },
  saber: { forms: ['sé', 'sabes', 'sabe', 'sabemos', 'sabéis', 'saben'] as Forms, en: 'know' },
  pensar: { forms: ['pienso', 'piensas', 'piensa', 'pensamos', 'pensáis', 'piensan'] as Forms, en: 'think' },
} as const;
export type ReportingName = keyof typeof REPORTING;

export const SER: Forms = ['soy', 'eres', 'es', 'somos', 'sois', 'son'];
export const ESTAR: Forms = ['estoy', 'estás', 'está', 'estamos', 'estáis', 'están'];
/** English "be" for the six persons. */
export const BE = ['am', 'are', 'is', 'are', 'are', 'are'];

/** Prepositions: Spanish words → English words (the grammar aligns them word by word, see corpus). */
export const PREPOSITIONS: readonly { es: string[]; en: string[]; align: number[] }[] = [
  // align[k] = which Spanish word English word k comes from
  { es: ['en'], en: ['in'], align: [0] },
  { es: ['con'], en: ['with'], align: [0] },
  { es: ['sin'], en: ['without'], align: [0] },
  { es: ['para'], en: ['for'], align: [0] },
  { es: ['sobre'], en: ['on'], align: [0] },
  { es: ['hacia'], en: ['towards'], align: [0] },
  { es: ['desde'], en: ['from'], align: [0] },
  { es: ['debajo', 'de'], en: ['under'], align: [0] },
  { es: ['cerca', 'de'], en: ['near'], align: [0] },
  { es: ['detrás', 'de'], en: ['behind'], align: [0] },
  { es: ['delante', 'de'], en: ['in', 'front', 'of'], align: [0, 0, 1] },
  { es: ['al', 'lado', 'de'], en: ['next', 'to'], align: [1, 2] },
  { es: ['dentro', 'de'], en: ['inside'], align: [0] },
  { es: ['lejos', 'de'], en: ['far', 'from'], align: [0, 1] },
];

/** Adverbs at the end of a clause. */
export const ADVERBS: readonly { es: string[]; en: string[]; align: number[] }[] = [
  { es: ['hoy'], en: ['today'], align: [0] },
  { es: ['mañana'], en: ['tomorrow'], align: [0] },
  { es: ['ahora'], en: ['now'], align: [0] },
  { es: ['aquí'], en: ['here'], align: [0] },
  { es: ['allí'], en: ['there'], align: [0] },
  { es: ['también'], en: ['too'], align: [0] },
  { es: ['mucho'], en: ['a', 'lot'], align: [0, 0] },
  { es: ['bien'], en: ['well'], align: [0] },
  { es: ['mal'], en: ['badly'], align: [0] },
  { es: ['rápidamente'], en: ['quickly'], align: [0] },
  { es: ['lentamente'], en: ['slowly'], align: [0] },
  { es: ['todos', 'los', 'días'], en: ['every', 'day'], align: [0, 2] },
  { es: ['por', 'la', 'noche'], en: ['at', 'night'], align: [0, 2] },
  { es: ['por', 'la', 'mañana'], en: ['in', 'the', 'morning'], align: [0, 1, 2] },
  { es: ['otra', 'vez'], en: ['again'], align: [1] },
];

/** Frequency adverbs before the verb (in both languages). */
export const FREQUENCY: readonly { es: string[]; en: string[]; align: number[] }[] = [
  { es: ['siempre'], en: ['always'], align: [0] },
  { es: ['nunca'], en: ['never'], align: [0] },
  { es: ['a', 'veces'], en: ['sometimes'], align: [1] },
  { es: ['todavía'], en: ['still'], align: [0] },
];

/** Words joining two clauses. */
export const CONNECTORS: readonly { es: string; en: string }[] = [
  { es: 'y', en: 'and' }, { es: 'pero', en: 'but' }, { es: 'o', en: 'or' }, { es: 'porque', en: 'because' },
  { es: 'cuando', en: 'when' }, { es: 'aunque', en: 'although' }, { es: 'si', en: 'if' }, { es: 'mientras', en: 'while' },
];

export const NUMBERS: readonly { es: string; en: string; value: number }[] = [
  { es: 'dos', en: 'two', value: 2 }, { es: 'tres', en: 'three', value: 3 }, { es: 'cuatro', en: 'four', value: 4 },
  { es: 'cinco', en: 'five', value: 5 }, { es: 'seis', en: 'six', value: 6 }, { es: 'siete', en: 'seven', value: 7 },
  { es: 'ocho', en: 'eight', value: 8 }, { es: 'nueve', en: 'nine', value: 9 }, { es: 'diez', en: 'ten', value: 10 },
];
