import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsIn,
  IsObject,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { EmailField, MaxChars, PasswordField, TextField } from '../../common/fields';
import { TENANT_SLUG_MAX_LENGTH } from '../../tenancy/tenant-slug';
import { FARM_TYPE_ENUM, FARM_TYPES, FarmType } from '../organization.entity';

/** A URI character of a path segment (RFC 3986 `pchar`): unreserved, sub-delims, ':' or '@', or percent-encoded. */
const PCHAR = "(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})";

/**
 * An http(s) URL written as an RFC 3986 URI (what `format: uri` promises the document's readers): ASCII, every other
 * character percent-encoded, `[` `]` only around an IP literal host. isURL checks the protocol and the host, not the
 * characters of the rest: it lets non-ASCII letters, `{`, `|`, a second `#` and a `%` without two hex digits through.
 */
const HTTP_URI = new RegExp(
  '^[Hh][Tt][Tt][Pp][Ss]?://' +
    `(?:(?:[A-Za-z0-9._~!$&'()*+,;=:-]|%[0-9A-Fa-f]{2})*@)?` +
    `(?:\\[[0-9A-Fa-f:.]+\\]|(?:[A-Za-z0-9._~!$&'()*+,;=-]|%[0-9A-Fa-f]{2})*)(?::[0-9]*)?` +
    `(?:/${PCHAR}*)*(?:\\?(?:${PCHAR}|[/?])*)?(?:#(?:${PCHAR}|[/?])*)?$`,
);

export class OwnerDto {
  @TextField(200, { example: 'Ada' })
  firstName!: string;

  @TextField(200, { example: 'Lovelace' })
  lastName!: string;

  @EmailField({ example: 'ada@greenvalley.example' })
  email!: string;

  @PasswordField({ description: 'At least 10 characters; stored as an argon2id hash, never returned' })
  password!: string;
}

export class CreateOrganizationDto {
  @TextField(200, {
    example: 'Green Valley Co-op',
    description:
      'Unique name; the tenant id is derived from it ("Green Valley Co-op" -> green-valley-co-op, "Café" -> cafe: ' +
      'accents dropped, other characters outside a-z 0-9 become dashes) and may have at most ' +
      `${TENANT_SLUG_MAX_LENGTH} characters (400 ORGANIZATION_NAME_INVALID beyond)`,
    mustMatch: { pattern: /[A-Za-z0-9]/, message: 'name must contain at least one letter or digit' },
  })
  name!: string;

  @ApiProperty({ ...FARM_TYPE_ENUM, example: 'vegetable' })
  @IsIn(FARM_TYPES, { message: `farmType must be one of: ${FARM_TYPES.join(', ')}` })
  farmType!: FarmType;

  @ApiPropertyOptional({
    type: String,
    example: 'https://cdn.example.com/logos/green-valley.png',
    maxLength: 2000,
    nullable: true,
    format: 'uri',
    pattern: HTTP_URI.source,
    description:
      'An http or https URL whose host is a domain name with a top-level domain or an IP address (not localhost), ' +
      "written as an RFC 3986 URI: characters other than ASCII letters, digits and - . _ ~ ! $ & ' ( ) * + , ; = : " +
      '@ / ? # percent-encoded (a space as %20), an internationalized domain name in its xn-- form',
  })
  @IsOptional()
  @IsString()
  @MaxChars(2000)
  @IsUrl(
    { protocols: ['http', 'https'], require_protocol: true },
    { message: 'logoUrl must be an http(s) URL' },
  )
  @Matches(HTTP_URI, {
    message:
      'logoUrl must be written as a URI: percent-encode characters other than ASCII letters, digits and ' +
      "- . _ ~ ! $ & ' ( ) * + , ; = : @ / ? #, and write an internationalized domain name in its xn-- form",
  })
  logoUrl?: string | null;

  @ApiPropertyOptional({
    type: OwnerDto,
    description:
      "The organization's first user, created with role admin in the same sign-up. Required when the caller has " +
      'no platform token (SIGNUP_MODE=open).',
  })
  @ValidateIf((_object, value) => value !== undefined)
  @IsObject({ message: 'owner must be an object' })
  @ValidateNested()
  @Type(() => OwnerDto)
  owner?: OwnerDto;
}
