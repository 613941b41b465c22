// Original file: keylease.proto


export interface ValidatorKey {
  'pubKey'?: (string);
  'keystoreJson'?: (string);
  'keystorePassword'?: (string);
  'slashingProtection'?: (string);
}

export interface ValidatorKey__Output {
  'pubKey': (string);
  'keystoreJson': (string);
  'keystorePassword': (string);
  'slashingProtection': (string);
}
