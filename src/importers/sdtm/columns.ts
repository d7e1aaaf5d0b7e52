/**
 * The SDTM variables each imported domain may have (SDTMIG 3.x: identifiers, the domain's topic,
 * qualifier and timing variables). A column outside the list stops the import of that domain
 * (AEP_IMPORT_UNKNOWN_COLUMN): a misspelt variable must not silently drop its data. `required`
 * are the ones the mapping reads without a fallback.
 */
const IDENTIFIERS = ['STUDYID', 'DOMAIN', 'USUBJID', 'POOLID', 'SPDEVID'];
const VISIT_TIMING = ['VISITNUM', 'VISIT', 'VISITDY', 'TAETORD', 'EPOCH'];

export interface DomainColumns {
  known: ReadonlySet<string>;
  required: readonly string[];
}

function domain(required: string[], ...groups: string[][]): DomainColumns {
  return { known: new Set([...IDENTIFIERS, ...required, ...groups.flat()]), required };
}

export const DOMAIN_COLUMNS: Readonly<Record<'DM' | 'VS' | 'LB' | 'CM' | 'EX' | 'AE', DomainColumns>> = {
  DM: domain(
    ['STUDYID', 'USUBJID', 'SITEID', 'AGE', 'SEX', 'ARM', 'RFSTDTC'],
    [
      'SUBJID',
      'RFENDTC',
      'RFXSTDTC',
      'RFXENDTC',
      'RFICDTC',
      'RFPENDTC',
      'DTHDTC',
      'DTHFL',
      'INVID',
      'INVNAM',
    ],
    ['BRTHDTC', 'AGEU', 'RACE', 'ETHNIC', 'ARMCD', 'ACTARMCD', 'ACTARM', 'ARMNRS', 'ACTARMUD', 'COUNTRY'],
    ['DMDTC', 'DMDY'],
  ),
  VS: domain(
    ['USUBJID', 'VSSEQ', 'VSTESTCD', 'VSORRES', 'VSORRESU', 'VSDTC'],
    [
      'VSGRPID',
      'VSREFID',
      'VSSPID',
      'VSTEST',
      'VSCAT',
      'VSSCAT',
      'VSPOS',
      'VSSTRESC',
      'VSSTRESN',
      'VSSTRESU',
    ],
    [
      'VSSTAT',
      'VSREASND',
      'VSLOC',
      'VSLAT',
      'VSBLFL',
      'VSLOBXFL',
      'VSDRVFL',
      'VSTOXGR',
      'VSCLSIG',
      'VSORNRLO',
    ],
    [
      'VSORNRHI',
      'VSNRIND',
      'VSDY',
      'VSTPT',
      'VSTPTNUM',
      'VSELTM',
      'VSTPTREF',
      'VSRFTDTC',
      'VSEVAL',
      'VSMETHOD',
    ],
    VISIT_TIMING,
  ),
  LB: domain(
    ['USUBJID', 'LBSEQ', 'LBTESTCD', 'LBORRES', 'LBORRESU', 'LBDTC'],
    [
      'LBGRPID',
      'LBREFID',
      'LBSPID',
      'LBTEST',
      'LBCAT',
      'LBSCAT',
      'LBORNRLO',
      'LBORNRHI',
      'LBSTRESC',
      'LBSTRESN',
    ],
    [
      'LBSTRESU',
      'LBSTNRLO',
      'LBSTNRHI',
      'LBSTNRC',
      'LBNRIND',
      'LBSTAT',
      'LBREASND',
      'LBNAM',
      'LBSPEC',
      'LBSPCCND',
    ],
    [
      'LBMETHOD',
      'LBBLFL',
      'LBLOBXFL',
      'LBFAST',
      'LBDRVFL',
      'LBTOXGR',
      'LBCLSIG',
      'LBDY',
      'LBTPT',
      'LBTPTNUM',
    ],
    ['LBELTM', 'LBTPTREF', 'LBRFTDTC', 'LBENDTC', 'LBENDY'],
    VISIT_TIMING,
  ),
  CM: domain(
    ['USUBJID', 'CMSEQ', 'CMTRT'],
    [
      'CMGRPID',
      'CMSPID',
      'CMMODIFY',
      'CMDECOD',
      'CMCAT',
      'CMSCAT',
      'CMPRESP',
      'CMOCCUR',
      'CMSTAT',
      'CMREASND',
    ],
    [
      'CMINDC',
      'CMCLAS',
      'CMCLASCD',
      'CMDOSE',
      'CMDOSTXT',
      'CMDOSU',
      'CMDOSFRM',
      'CMDOSFRQ',
      'CMDOSTOT',
      'CMDOSRGM',
    ],
    ['CMROUTE', 'CMADJ', 'CMDTC', 'CMSTDTC', 'CMENDTC', 'CMSTDY', 'CMENDY', 'CMDUR', 'CMSTRF', 'CMENRF'],
    ['CMSTRTPT', 'CMSTTPT', 'CMENRTPT', 'CMENTPT'],
    VISIT_TIMING,
  ),
  EX: domain(
    ['USUBJID', 'EXSEQ', 'EXTRT', 'EXSTDTC'],
    [
      'EXGRPID',
      'EXREFID',
      'EXSPID',
      'EXLNKID',
      'EXCAT',
      'EXSCAT',
      'EXDOSE',
      'EXDOSTXT',
      'EXDOSU',
      'EXDOSFRM',
    ],
    ['EXDOSFRQ', 'EXDOSTOT', 'EXDOSRGM', 'EXROUTE', 'EXLOT', 'EXLOC', 'EXLAT', 'EXFAST', 'EXADJ', 'EXDTC'],
    ['EXENDTC', 'EXSTDY', 'EXENDY', 'EXDUR', 'EXTPT', 'EXTPTNUM', 'EXELTM', 'EXTPTREF', 'EXRFTDTC'],
    VISIT_TIMING,
  ),
  AE: domain(
    ['USUBJID', 'AESEQ', 'AETERM', 'AEDECOD', 'AESEV', 'AESTDTC'],
    ['AEGRPID', 'AEREFID', 'AESPID', 'AEMODIFY', 'AELLT', 'AELLTCD', 'AEPTCD', 'AEHLT', 'AEHLTCD', 'AEHLGT'],
    ['AEHLGTCD', 'AECAT', 'AESCAT', 'AEPRESP', 'AEBODSYS', 'AEBDSYCD', 'AESOC', 'AESOCCD', 'AELOC', 'AESER'],
    ['AEACN', 'AEACNOTH', 'AEREL', 'AERELNST', 'AEPATT', 'AEOUT', 'AESCAN', 'AESCONG', 'AESDISAB', 'AESDTH'],
    ['AESHOSP', 'AESLIFE', 'AESOD', 'AESMIE', 'AECONTRT', 'AETOXGR', 'AEDTC', 'AEENDTC', 'AESTDY', 'AEENDY'],
    ['AEDUR', 'AEENRF', 'AEENRTPT', 'AEENTPT'],
    VISIT_TIMING,
  ),
};

export type ImportedDomain = keyof typeof DOMAIN_COLUMNS;
/** DM first: every other domain needs its subjects (site, trial, reference start). */
export const DOMAIN_ORDER: readonly ImportedDomain[] = ['DM', 'VS', 'LB', 'CM', 'EX', 'AE'];
