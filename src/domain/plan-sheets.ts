/**
 * The spreadsheet form of a homologation's plan: the sheets, their columns with French headers (and the other
 * names a person types for them), and how a list or a count is written in one cell. The export writes exactly
 * these; the import reads them back (and the looser forms people type), so an export re-imported gives the same
 * plan. No I/O here: src/spreadsheet reads and writes the files.
 */

export type PlanSheetKind = 'fiches' | 'steps' | 'sideEffects' | 'owners' | 'risks';

export type ColumnType =
  /** a whole number (a fiche's or a step's number) */
  | 'integer'
  /** free text, one line or several */
  | 'text'
  /** a day: a date cell, 31/12/2023, 31 décembre 2023, 2023-12-31, an Excel serial number */
  | 'date'
  /** Non démarré, En cours, Bloqué, Fait (and the usual synonyms) */
  | 'status'
  /** Oui / Non */
  | 'boolean'
  /** an amount in euros: 12 000 €, 12000, 12 000,00 */
  | 'amount'
  /** several values in one cell: one per line (also separated by ; or ,) */
  | 'list';

export interface ColumnSpec<K extends string = string> {
  key: K;
  /** The header written by the export and the template. */
  header: string;
  /** Other headers a person types for it (matched without case, accents, spaces or punctuation). */
  aliases: readonly string[];
  type: ColumnType;
  /** Must be present in the sheet (the sheet cannot be read without it). */
  required?: boolean;
  /** What the template's comment row says about it. */
  help: string;
  /** Written by the export for the reader, never read back (the criticality is computed). */
  computed?: boolean;
}

export interface SheetSpec<K extends string = string> {
  kind: PlanSheetKind;
  name: string;
  aliases: readonly string[];
  columns: readonly ColumnSpec<K>[];
}

export const FICHE_COLUMNS = [
  { key: 'number', header: 'N°', aliases: ['numéro', 'numero', 'n', 'no', 'num', '#', 'n° fiche', 'numéro de fiche', 'fiche', 'fiche n°'], type: 'integer', required: true, help: 'Le numéro de la fiche : une fiche de même numéro est mise à jour, une autre est créée.' },
  { key: 'title', header: 'Titre', aliases: ['intitulé', 'intitule', 'titre de la fiche', 'fiche action', 'action', 'nom'], type: 'text', help: 'Obligatoire pour une nouvelle fiche (300 caractères au plus).' },
  { key: 'finding', header: 'Constat', aliases: ['constats', 'problème', 'probleme', 'description', 'situation'], type: 'text', help: 'Le constat qui motive la fiche.' },
  { key: 'targetDate', header: 'Date cible', aliases: ['échéance', 'echeance', 'date limite', 'date prévue', 'date butoir', 'date de fin', 'date'], type: 'date', help: 'Une date : 31/12/2026 ou 31 décembre 2026.' },
  { key: 'status', header: 'Statut', aliases: ['état', 'etat', 'statut de la fiche', 'avancement'], type: 'status', help: 'Non démarré, En cours, Bloqué ou Fait.' },
  { key: 'owners', header: 'Porteurs', aliases: ['porteur', 'équipe', 'équipes', 'equipe', 'equipes', 'responsable', 'responsables', 'pilote', 'pilotes', 'équipes porteuses'], type: 'list', help: 'Les équipes porteuses, une par ligne ; « Équipe (Service) » pour un seul service.' },
  { key: 'conclusion', header: "Conclusion de l'étude", aliases: ['conclusion', "conclusion étude", 'étude', 'conclusions'], type: 'text', help: "Ce que l'étude a conclu." },
  { key: 'conclusionCounts', header: "Chiffres de l'étude", aliases: ['chiffres', 'chiffres clés', 'décompte', 'décomptes'], type: 'list', help: 'Un décompte par ligne : « 9 / 14 : instances concernées ».' },
  { key: 'costAmount', header: 'Coût (€)', aliases: ['coût', 'cout', 'coût en euros', 'budget', 'montant'], type: 'amount', help: 'Un montant en euros, sans centimes : 12 000.' },
  { key: 'costSource', header: 'Source du coût', aliases: ['origine du coût', 'source', 'financement', 'source coût'], type: 'text', help: "D'où vient le coût (devis, estimation…)." },
  { key: 'scope', header: 'Périmètre', aliases: ['instances', 'périmètre concerné', 'perimetre', 'instances concernées'], type: 'list', help: '« Tout le périmètre », ou une instance par ligne (« Service — Instance » si deux services ont une instance du même nom).' },
  { key: 'steps', header: 'Étapes', aliases: ['étape', 'etape', 'etapes', 'actions à mener', 'étapes à mener', 'libellé de l’étape', "libellé de l'étape"], type: 'list', help: 'Une étape par ligne de la cellule (« [Fait] Déployer… » pour donner son statut), ou une ligne du tableau par étape en répétant le numéro de la fiche.' },
  { key: 'stepStatus', header: "Statut de l'étape", aliases: ['statut étape', 'état de l’étape', "état de l'étape"], type: 'status', help: "Le statut de l'étape de la ligne, quand la ligne en porte une seule." },
  { key: 'sideEffects', header: 'Effets de bord', aliases: ['effets de bord attendus', 'effet de bord', 'effets', 'impacts'], type: 'list', help: 'Un effet par ligne : « Fort : … » ou « Faible : … ».' },
] as const satisfies readonly ColumnSpec[];

export const STEP_COLUMNS = [
  { key: 'ficheNumber', header: 'N° fiche', aliases: ['fiche', 'numéro de fiche', 'fiche n°', 'n° de fiche'], type: 'integer', required: true, help: 'Le numéro de la fiche de cette étape.' },
  { key: 'position', header: 'N° étape', aliases: ['numéro étape', "numéro de l'étape", 'ordre', 'position', 'n° de l’étape'], type: 'integer', help: "L'ordre de l'étape dans la fiche (l'ordre des lignes sinon)." },
  { key: 'label', header: 'Étape', aliases: ['libellé', 'libelle', 'étapes', 'action', 'intitulé'], type: 'text', required: true, help: "Ce qu'il faut faire (500 caractères au plus)." },
  { key: 'status', header: 'Statut', aliases: ['état', 'etat', "statut de l'étape"], type: 'status', help: 'Non démarré, En cours, Bloqué ou Fait.' },
  { key: 'forCommunes', header: 'À mener par les communes', aliases: ['communes', 'par les communes', 'menée par les communes'], type: 'boolean', help: 'Oui si les communes partenaires mènent cette étape.' },
  { key: 'assignee', header: 'Responsable', aliases: ["responsable de l'étape", 'responsable de l’étape', 'qui', 'personne'], type: 'text', help: "Qui mène l'étape : le nom ou l'adresse électronique d'un compte, ou d'une personne sans compte déjà enregistrée." },
  { key: 'targetDate', header: "Date de l'étape", aliases: ['date étape', 'échéance de l’étape', "échéance de l'étape", 'date'], type: 'date', help: "Sa date, si elle diffère de la date cible de la fiche." },
] as const satisfies readonly ColumnSpec[];

export const SIDE_EFFECT_COLUMNS = [
  { key: 'ficheNumber', header: 'N° fiche', aliases: ['fiche', 'numéro de fiche', 'fiche n°'], type: 'integer', required: true, help: 'Le numéro de la fiche.' },
  { key: 'level', header: 'Niveau', aliases: ['intensité', 'force', 'importance'], type: 'text', required: true, help: 'Fort ou Faible.' },
  { key: 'description', header: 'Effet de bord', aliases: ['effet', 'description', 'effets de bord'], type: 'text', required: true, help: "L'effet attendu." },
] as const satisfies readonly ColumnSpec[];

export const OWNER_COLUMNS = [
  { key: 'ficheNumber', header: 'N° fiche', aliases: ['fiche', 'numéro de fiche', 'fiche n°'], type: 'integer', required: true, help: 'Le numéro de la fiche.' },
  { key: 'team', header: 'Équipe', aliases: ['porteur', 'equipe', 'équipe porteuse'], type: 'text', required: true, help: "Le nom d'une équipe de l'organisation." },
  { key: 'service', header: 'Service', aliases: ['pour le service', 'application'], type: 'text', help: 'Vide : toute la fiche ; sinon le seul service que porte cette équipe.' },
] as const satisfies readonly ColumnSpec[];

export const RISK_COLUMNS = [
  { key: 'number', header: 'N°', aliases: ['numéro', 'numero', 'n', 'no', '#', 'n° risque', 'risque n°'], type: 'integer', required: true, help: 'Le numéro du risque : un risque de même numéro est mis à jour, un autre est créé.' },
  { key: 'title', header: 'Risque', aliases: ['risques identifiés', 'risques identifies', 'risque identifié', 'intitulé', 'titre', 'risques'], type: 'text', help: 'Obligatoire pour un nouveau risque.' },
  { key: 'description', header: 'Description', aliases: ['détail'], type: 'text', help: 'Le risque en quelques phrases.' },
  { key: 'scenario', header: 'Scénario', aliases: ['scenario', 'source de menace', 'événement redouté', 'menace'], type: 'text', help: "La source de menace ou l'événement redouté." },
  { key: 'likelihood', header: 'Vraisemblance', aliases: ['probabilité', 'probabilite', 'occurrence', 'fréquence'], type: 'text', help: "Un niveau de l'échelle de vraisemblance de l'organisation." },
  { key: 'severity', header: 'Gravité', aliases: ['gravite', 'impact', 'sévérité', 'severite'], type: 'text', help: "Un niveau de l'échelle de gravité de l'organisation." },
  { key: 'criticality', header: 'Criticité', aliases: ['criticite', 'niveau de risque', 'criticité brute'], type: 'text', computed: true, help: 'Calculée par la matrice : la valeur du fichier est ignorée.' },
  { key: 'owner', header: 'Responsable', aliases: ['propriétaire', 'porteur', 'pilote', 'responsable du risque'], type: 'text', help: "Une équipe de l'organisation, ou le nom d'une personne." },
  { key: 'existingMeasures', header: 'Mesures existantes', aliases: ['prévention', 'prevention', 'mesures', 'mesures de prévention', 'mesures en place'], type: 'text', help: 'Les mesures déjà en place.' },
  { key: 'treatment', header: 'Traitement', aliases: ['stratégie', 'décision de traitement', 'option de traitement'], type: 'text', help: 'Réduire, Accepter, Transférer ou Éviter (Réduire si vide).' },
  { key: 'residualLikelihood', header: 'Vraisemblance résiduelle', aliases: ['probabilité résiduelle'], type: 'text', help: 'Une fois les fiches faites (avec la gravité résiduelle, ou vide).' },
  { key: 'residualSeverity', header: 'Gravité résiduelle', aliases: ['impact résiduel'], type: 'text', help: 'Une fois les fiches faites (avec la vraisemblance résiduelle, ou vide).' },
  { key: 'fiches', header: 'Fiches', aliases: ['fiches actions', 'fiches de traitement', 'traité par', 'fiches liées', 'n° des fiches'], type: 'list', help: 'Les numéros des fiches qui traitent le risque : 1, 3.' },
  { key: 'instances', header: 'Instances', aliases: ['instances concernées', 'instances impactées', 'périmètre'], type: 'list', help: 'Les instances touchées, une par ligne.' },
] as const satisfies readonly ColumnSpec[];

export type FicheColumn = (typeof FICHE_COLUMNS)[number]['key'];
export type StepColumn = (typeof STEP_COLUMNS)[number]['key'];
export type SideEffectColumn = (typeof SIDE_EFFECT_COLUMNS)[number]['key'];
export type OwnerColumn = (typeof OWNER_COLUMNS)[number]['key'];
export type RiskColumn = (typeof RISK_COLUMNS)[number]['key'];

export const PLAN_SHEETS: readonly SheetSpec[] = [
  { kind: 'fiches', name: 'Fiches', aliases: ['fiches actions', 'fiches action', "plan d'action", 'plan d’action', 'plan', 'actions'], columns: FICHE_COLUMNS },
  { kind: 'steps', name: 'Étapes', aliases: ['etapes', 'étapes des fiches'], columns: STEP_COLUMNS },
  { kind: 'sideEffects', name: 'Effets de bord', aliases: ['effets'], columns: SIDE_EFFECT_COLUMNS },
  { kind: 'owners', name: 'Porteurs', aliases: ['équipes porteuses', 'porteur'], columns: OWNER_COLUMNS },
  { kind: 'risks', name: 'Risques', aliases: ['analyse de risques', 'registre des risques', 'risques identifiés'], columns: RISK_COLUMNS },
];

export const sheetSpec = (kind: PlanSheetKind): SheetSpec => PLAN_SHEETS.find((s) => s.kind === kind)!;

/** A header or a sheet name as compared: lower case, no accents, no spaces or punctuation ("N° fiche" → "nfiche"). */
export function normaliseHeader(text: string): string {
  return text.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/œ/g, 'oe').replace(/[^a-z0-9#]/g, '');
}

// ── How a value is written in a cell (the export) and read back (the import) ──

/** What the scope cell holds when a fiche covers the whole perimeter. */
export const WHOLE_PERIMETER = 'Tout le périmètre';

/** An instance in a cell: "Service — Instance" (the import also takes the instance's name alone when it is unique). */
export const instanceCell = (serviceName: string, instanceName: string): string => `${serviceName} — ${instanceName}`;


/** A study's count: "9 / 14 : instances concernées". */
export const conclusionCountCell = (c: { count: number; total: number; label: string }): string => `${c.count} / ${c.total} : ${c.label}`;



/** Yes/no as written. */
export const booleanCell = (value: boolean): string => (value ? 'Oui' : 'Non');

/** The fiches of a risk: "1, 3". */
export const ficheNumbersCell = (numbers: readonly number[]): string => numbers.join(', ');

/** Where a list cell is cut: line breaks always; also ";" and, for numbers, ",". */
export function splitList(text: string, { commas = false }: { commas?: boolean } = {}): string[] {
  const separators = commas ? /\r\n|\r|\n|;|,/ : /\r\n|\r|\n|;/;
  return text.split(separators).map((s) => s.trim()).filter((s) => s !== '');
}

/** Limits on what an uploaded spreadsheet may hold: past them, the file is refused before anything is read. */
export const IMPORT_LIMITS = {
  /** the file as uploaded */
  fileBytes: 10 * 1024 * 1024,
  /** all the entries of an XLSX or ODS file once decompressed (a zip bomb stops here) */
  unzippedBytes: 100 * 1024 * 1024,
  /** entries in the XLSX or ODS archive */
  zipEntries: 1000,
  /** data rows of one sheet (500 fiches with 20 steps each fit) */
  rows: 20_000,
  /** columns of one sheet */
  columns: 60,
  /** sheets in one workbook */
  sheets: 30,
  /** characters in one cell */
  cellChars: 20_000,
} as const;

/** A risk's owner in its cell: the team, the person, or "Équipe — Personne" when both are named. */
export const riskOwnerCell = (teamName: string | null, personName: string): string =>
  teamName && personName ? `${teamName} — ${personName}` : teamName ?? personName;
